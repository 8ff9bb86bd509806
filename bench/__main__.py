"""The original entry script beside ours, on the same artifacts, in one run.

1. In-process run(): p50/p99 per call for one row and for 1000 rows.
2. HTTP: requests/s for one row on azmlinfsrv, same worker count, same client.

    python -m bench [--calls 2000] [--seconds 5] [--clients 2] [--workers 1]
"""

import argparse
import http.client
import io
import json
import os
import statistics
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from bench import original_score
from scoring import score
from tests.localserver import local_server

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / "model_artifacts"
SCRIPTS = {"original": ROOT / "bench" / "original_score.py", "ours": ROOT / "scoring" / "score.py"}
KEY = "bench-" + os.urandom(16).hex()


def percentiles(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    return ordered[len(ordered) // 2] * 1e3, ordered[int(len(ordered) * 0.99)] * 1e3


def timed_pair(first, first_args: list, second, second_args: list) -> tuple:
    """p50/p99 of each call, the two calls interleaved so both see the same machine load."""
    spent: tuple[list, list] = ([], [])
    for pair in zip(first_args, second_args):
        for call, argument, times in zip((first, second), pair, spent):
            start = time.perf_counter()
            call(argument)
            times.append(time.perf_counter() - start)
    return percentiles(spent[0]) + percentiles(spent[1])


def requests_for(body: bytes, count: int) -> list:
    """Requests as the server hands them to run(); built before the clock starts."""
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    environ = EnvironBuilder(method="POST", headers=headers, data=body).get_environ()
    return [Request(environ | {"wsgi.input": io.BytesIO(body)}) for _ in range(count)]


def in_process(calls: int) -> None:
    os.environ.update({"AZUREML_MODEL_DIR": str(MODEL_DIR), score.KEY_ENV: KEY})
    os.environ.pop(score.REQUIRE_ENV, None)
    original_score.init()
    score.init()
    print("in-process run(), ms per call (p50 / p99)\n")
    print("| rows | original p50 | original p99 | ours p50 | ours p99 | speed-up p50 |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for rows, count in ((1, calls), (1000, max(calls // 20, 20))):
        text = json.dumps({"data": score.probe_rows(score._scorer, rows - 1)})
        assert json.loads(score.run(requests_for(text.encode(), 1)[0])) == json.loads(
            original_score.run(text)
        ), "the two scripts disagree"
        ours = requests_for(text.encode(), count)
        times = timed_pair(original_score.run, [text] * count, score.run, ours)
        cells = [rows, *(f"{v:.3f}" for v in times), f"{times[0] / times[2]:.1f}x"]
        print("| " + " | ".join(map(str, cells)) + " |")


def hammer(url: str, body: bytes, headers: dict, seconds: float, clients: int) -> tuple:
    """Single-row POSTs from `clients` threads for `seconds`: (req/s, errors, p50 ms)."""
    target = urlsplit(url)
    latencies: list[float] = []
    errors = [0]
    stop = time.monotonic() + seconds

    def client() -> None:
        while time.monotonic() < stop:
            start = time.perf_counter()
            try:
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                connection.request("POST", target.path, body, headers)
                response = connection.getresponse()
                response.read()
                connection.close()
                ok = response.status == 200
            except OSError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - start)
            else:
                errors[0] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    return len(latencies) / elapsed, errors[0], statistics.median(latencies) * 1e3


def over_http(seconds: float, clients: int, workers: int) -> None:
    body = json.dumps({"data": [score.SAMPLE_ROW]}).encode()
    print(f"\nHTTP, azmlinfsrv with {workers} worker(s), {clients} client threads, {seconds:g} s\n")
    print("| script | req/s | p50 ms | errors |")
    print("| --- | ---: | ---: | ---: |")
    rates = {}
    for name, script in SCRIPTS.items():
        env = {score.KEY_ENV: KEY} if name == "ours" else {}
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
        with local_server(env, script, MODEL_DIR, workers) as base:
            url = f"{base}/score"
            hammer(url, body, headers, 1, clients)  # warm-up
            rate, errors, p50 = hammer(url, body, headers, seconds, clients)
        rates[name] = rate
        print(f"| {name} | {rate:.0f} | {p50:.2f} | {errors} |")
    print(f"\nours / original: {rates['ours'] / rates['original']:.1f}x requests/s")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="single-row calls in-process")
    parser.add_argument("--seconds", type=float, default=5, help="HTTP duration per script")
    parser.add_argument("--clients", type=int, default=2, help="HTTP client threads")
    parser.add_argument("--workers", type=int, default=1, help="azmlinfsrv WORKER_COUNT")
    args = parser.parse_args(argv)
    load1, _, _ = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, load average {load1:.2f} before the run\n")
    in_process(args.calls)
    over_http(args.seconds, args.clients, args.workers)
    load1, _, _ = os.getloadavg()
    print(f"\nload average {load1:.2f} after the run (others' work on this machine adds noise)")


if __name__ == "__main__":
    main()
