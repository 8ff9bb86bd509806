"""How long a valid request waits while 50 slow clients hold connections open.

Slow clients: a third connect and stay silent, a third stop their headers mid-line, a third
trickle their body one byte every 3 s. Measured on loopback with the deployed settings (two
workers, 30 s worker timeout; the proxy's 5 s header and 10 s body timeouts), through
proxy/Caddyfile and, as the baseline, straight to azmlinfsrv as dev served until now.

    python -m bench.slow_clients [--rounds 5] [--slow 50] [--direct-timeout 60]
"""

import argparse
import json
import os
import select
import socket
import threading
import time
from urllib.parse import urlsplit

import requests

from load.server import MODEL_DIR, SCRIPTS, serve
from proxy.caddy import proxy
from scoring import score

KEY = "bench-" + os.urandom(16).hex()
SAMPLE = [596, "Germany", "Male", 32, 3, 96709.1, 2, 0, 0, 41788.4]


class SlowClients:
    """Connections that open and then stall: silent, headers cut mid-line, bodies trickled."""

    def __init__(self, port: int, each: int, trickle_every_s: float = 3.0) -> None:
        host = f"Host: 127.0.0.1:{port}\r\n".encode()
        starts = {
            "idle": b"",
            "headers": b"POST /score HTTP/1.1\r\n" + host + b"Content-Ty",
            "body": b"POST /score HTTP/1.1\r\n" + host + b"Content-Length: 1000\r\n\r\n{",
        }
        self.socks: list[tuple[str, socket.socket]] = []
        for kind, start in starts.items():
            for _ in range(each):
                sock = socket.create_connection(("127.0.0.1", port))
                sock.sendall(start)
                self.socks.append((kind, sock))
        self.received = {id(sock): b"" for _, sock in self.socks}
        self.closed: set[int] = set()
        self._every = trickle_every_s
        self._stop = threading.Event()
        self._trickler = threading.Thread(target=self._trickle, daemon=True)
        self._trickler.start()

    def _trickle(self) -> None:
        while not self._stop.wait(self._every):
            for kind, sock in self.socks:
                if kind == "body" and id(sock) not in self.closed:
                    try:
                        sock.sendall(b" ")
                    except OSError:
                        pass

    def poll(self) -> None:
        """Read whatever has arrived, without waiting."""
        open_socks = [s for _, s in self.socks if id(s) not in self.closed]
        readable, _, _ = select.select(open_socks, [], [], 0)
        for sock in readable:
            try:
                chunk = sock.recv(65536)
            except OSError:
                chunk = b""
            if chunk:
                self.received[id(sock)] += chunk
            else:
                self.closed.add(id(sock))

    def answers(self, kind: str) -> list[bytes]:
        return [self.received[id(s)] for k, s in self.socks if k == kind]

    def close(self) -> None:
        self._stop.set()
        self._trickler.join()
        for _, sock in self.socks:
            sock.close()


def wait_s(url: str, slow_count: int, timeout_s: float) -> float | None:
    """Seconds until a valid request is answered with `slow_count` slow clients open (None
    past `timeout_s`)."""
    port = urlsplit(url).port or 80
    slow = SlowClients(port, -(-slow_count // 3)) if slow_count else None
    try:
        time.sleep(0.5)  # every slow connection accepted and stalled
        start = time.monotonic()
        try:
            answer = requests.post(
                f"{url}/score",
                json={"data": [SAMPLE]},
                headers={"Authorization": f"Bearer {KEY}"},
                timeout=timeout_s,
            )
        except requests.RequestException:
            return None
        elapsed = time.monotonic() - start
        assert answer.status_code == 200 and json.loads(answer.json())[0][0] > 0.9, answer.text
        return elapsed
    finally:
        if slow:
            slow.close()


def show(label: str, waits: list[float | None]) -> None:
    shown = ", ".join("timeout" if w is None else f"{w:.3f}" for w in waits)
    known = [w for w in waits if w is not None]
    worst = f"{max(known):.3f} s" if known else "-"
    print(f"{label:<34} max {worst:>9}   ({shown})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--slow", type=int, default=50)
    parser.add_argument("--direct-timeout", type=float, default=60.0)
    args = parser.parse_args()
    env = {score.KEY_ENV: KEY, "WORKER_TIMEOUT": "30"}
    with (
        serve(SCRIPTS["ours"], MODEL_DIR, env, workers=2) as (direct, _pid),
        proxy(urlsplit(direct).netloc) as (proxied, _log),
    ):
        print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores")
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        print(f"valid request wait with {args.slow} slow clients open (s)")
        show("proxy, no slow clients", [wait_s(proxied, 0, 30) for _ in range(args.rounds)])
        show(
            f"proxy, {args.slow} slow clients",
            [wait_s(proxied, args.slow, 30) for _ in range(args.rounds)],
        )
        show(
            f"direct, {args.slow} slow clients",
            [wait_s(direct, args.slow, args.direct_timeout)],
        )
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
