"""Capture on vs off: single-row HTTP requests/s on AzureML's inference server, side by side.

Both servers run at once, with the same entry script, artifacts and worker count; they are
measured in alternating blocks so that both see the same machine load.

    python -m bench.capture [--seconds 4] [--rounds 5] [--clients 2] [--workers 1]
"""

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.clients import post_for
from load.server import MODEL_DIR, SCRIPTS, serve
from scoring import capture, score


def hammer(url: str, body: bytes, seconds: float, clients: int) -> tuple[int, int, list]:
    """Single-row POSTs from `clients` threads for `seconds`: (answered, errors, latencies)."""
    headers = {"Content-Type": "application/json"}
    latencies, errors, _ = post_for(url, body, headers, seconds, clients)
    return len(latencies), errors, latencies


def record_cost(calls: int = 20_000) -> float:
    """Microseconds one capture.record() call adds to a request, writer running."""
    manifest = json.loads((MODEL_DIR / "manifest.json").read_text())
    body = json.dumps({"data": [score.SAMPLE_ROW]}).encode()
    answer = "[[0.96, 0.04]]"
    with tempfile.TemporaryDirectory(prefix="churn-capture-") as folder:
        started = capture.start(manifest, {capture.DIR_ENV: folder, capture.QUEUE_ENV: "100000"})
        assert started is not None
        begin = time.perf_counter()
        for _ in range(calls):
            started.record(body, answer)
        spent = time.perf_counter() - begin
        started.stop(timeout=60)
    return spent / calls * 1e6


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4, help="length of one block")
    parser.add_argument("--rounds", type=int, default=5, help="blocks per variant")
    parser.add_argument("--clients", type=int, default=2, help="HTTP client threads")
    parser.add_argument("--workers", type=int, default=1, help="azmlinfsrv WORKER_COUNT")
    args = parser.parse_args(argv)
    body = json.dumps({"data": [score.SAMPLE_ROW]}).encode()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before the run")
    print(f"\nin-process: capture.record() takes {record_cost():.1f} µs a call")
    with tempfile.TemporaryDirectory(prefix="churn-capture-") as folder:
        env = {score.REQUIRE_ENV: "false"}
        variants = {"capture off": env, "capture on": env | {capture.DIR_ENV: folder}}
        totals = {label: [0, 0, []] for label in variants}
        with (
            serve(SCRIPTS["ours"], MODEL_DIR, variants["capture off"], args.workers) as (off, _),
            serve(SCRIPTS["ours"], MODEL_DIR, variants["capture on"], args.workers) as (on, _),
        ):
            urls = {"capture off": f"{off}/score", "capture on": f"{on}/score"}
            for url in urls.values():
                hammer(url, body, 1, args.clients)  # warm-up
            for _ in range(args.rounds):
                for label, url in urls.items():
                    answered, errors, latencies = hammer(url, body, args.seconds, args.clients)
                    totals[label][0] += answered
                    totals[label][1] += errors
                    totals[label][2] += latencies
            time.sleep(1)  # the writer's last batch
        rows = sum(1 for f in Path(folder).rglob("*.jsonl") for _ in f.open())
    spent = args.seconds * args.rounds
    base = totals["capture off"][0] / spent
    print(
        f"\nHTTP, one row, azmlinfsrv with {args.workers} worker(s), {args.clients} clients, "
        f"{args.rounds} x {args.seconds:g} s per variant, alternating\n"
    )
    print("| variant | req/s | p50 ms | errors | vs off |\n| --- | --- | --- | --- | --- |")
    for label, (answered, errors, latencies) in totals.items():
        rate = answered / spent
        p50 = statistics.median(latencies) * 1e3
        print(f"| {label} | {rate:.0f} | {p50:.2f} | {errors} | {rate / base - 1:+.1%} |")
    print(f"\n{rows} rows captured; load average {os.getloadavg()[0]:.2f} after the run")


if __name__ == "__main__":
    main()
