"""The original entry script beside ours, on the same artifacts, in one run.

1. In-process run(): p50/p99 per call for one row and for 1000 rows.
2. HTTP: requests/s for one row on azmlinfsrv, same worker count, same client.

    python -m bench [--calls 2000] [--seconds 10] [--clients 2] [--workers 1]
"""

import argparse
import contextlib
import json
import multiprocessing
import os
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from bench.calls import block, percentiles, setenv
from bench.clients import post_for
from load.server import MODEL_DIR, SCRIPTS, serve
from scoring import score
from scoring.score import probe_rows

KEY = "bench-" + os.urandom(16).hex()
# What is compared: label -> (entry script, environment of its process). The original as it
# is lets XGBoost use every core, which on a busy machine costs it most of its time; limited to
# one thread it shows what its pandas and scikit-learn work costs.
VARIANTS = {
    "original": ("original", {}),
    "original, XGBoost on 1 thread": ("original", {"OMP_NUM_THREADS": "1"}),
    "ours": ("ours", {score.KEY_ENV: KEY}),
}
# Over HTTP, also the server's ceiling: an entry script that returns a constant.
CONSTANT = Path(__file__).resolve().parent / "constant_score.py"
HTTP_VARIANTS = {label: (SCRIPTS[script], env) for label, (script, env) in VARIANTS.items()}
HTTP_VARIANTS["constant (ceiling)"] = (CONSTANT, {})
# Over HTTP, each server is hammered in turn for this long, round after round.
SLICE_S = 0.25


def table(title: str, head: str, lines: list) -> None:
    print(f"\n{title}\n\n| {head} |\n|" + " --- |" * head.count("|") + " --- |")
    for line in lines:
        print("| " + " | ".join(map(str, line)) + " |")


def in_process(calls: int, rounds: int = 5) -> None:
    """Each variant in a process of its own, measured in alternating blocks so that all see
    the same machine load."""
    os.environ["AZUREML_MODEL_DIR"] = str(MODEL_DIR)
    for name in (score.KEY_ENV, score.REQUIRE_ENV, "OMP_NUM_THREADS"):
        os.environ.pop(name, None)
    context = multiprocessing.get_context("spawn")
    pools = {
        label: ProcessPoolExecutor(1, context, initializer=setenv, initargs=(env,))
        for label, (_, env) in VARIANTS.items()
    }
    lines = []
    rows_scorer = score.load(str(MODEL_DIR))[0]
    for rows, count in ((1, calls), (1000, max(calls // 20, 20))):
        text = json.dumps({"data": probe_rows(rows_scorer, rows - 1)})
        spent: dict[str, list[float]] = {label: [] for label in VARIANTS}
        answers = {}
        for _ in range(rounds):
            for label, pool in pools.items():
                script = VARIANTS[label][0]
                times, answer = pool.submit(block, script, text, count // rounds, KEY).result()
                spent[label] += times
                answers[label] = json.loads(answer)
        for label, found in answers.items():  # ours writes float32 values, at their precision
            difference = np.abs(np.array(found) - np.array(answers["ours"])).max()
            assert difference <= score.TOLERANCE, f"{label} differs from ours by {difference}"
        ours = percentiles(spent["ours"])[0]
        for label, times in spent.items():
            p50, p99 = percentiles(times)
            lines.append([rows, label, f"{p50:.3f}", f"{p99:.3f}", f"{p50 / ours:.1f}x"])
    for pool in pools.values():
        pool.shutdown()
    table("in-process run(), ms per call", "rows | script | p50 | p99 | p50 / ours p50", lines)


def hammer(url: str, body: bytes, headers: dict, seconds: float, clients: int) -> tuple:
    """Single-row POSTs from `clients` threads for `seconds`: (req/s, errors, p50 ms)."""
    latencies, errors, elapsed = post_for(url, body, headers, seconds, clients)
    return len(latencies) / elapsed, errors, statistics.median(latencies) * 1e3


def over_http(seconds: float, clients: int, workers: int) -> None:
    """All servers up at once, hammered in turn for SLICE_S at a time, so that each sees the
    same share of whatever else the machine is doing (its load swings by 10-20% from one
    second to the next)."""
    rounds = max(1, round(seconds / SLICE_S))
    body = json.dumps({"data": [score.SAMPLE_ROW]}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
    counts = {label: [0.0, 0, []] for label in HTTP_VARIANTS}  # seconds, errors, p50s
    with contextlib.ExitStack() as stack:
        urls = {
            label: stack.enter_context(serve(script, MODEL_DIR, env, workers))[0] + "/score"
            for label, (script, env) in HTTP_VARIANTS.items()
        }
        for url in urls.values():
            hammer(url, body, headers, 1, clients)  # warm-up
        for _ in range(rounds):
            for label, url in urls.items():
                rate, errors, p50 = hammer(url, body, headers, seconds / rounds, clients)
                counts[label][0] += rate / rounds
                counts[label][1] += errors
                counts[label][2].append(p50)
    rates = {label: rate for label, (rate, _, _) in counts.items()}
    lines = [
        [label, f"{rate:.0f}", f"{statistics.median(p50s):.2f}", errors,
         f"{rates['ours'] / rate:.2f}"]
        for label, (rate, errors, p50s) in counts.items()
    ]  # fmt: skip
    title = f"HTTP, one row, azmlinfsrv with {workers} worker(s), {clients} clients, {seconds:g} s"
    table(title, "script | req/s | p50 ms | errors | ours / this", lines)
    ceiling = rates["ours"] / rates["constant (ceiling)"]
    print(f"\nours reaches {ceiling:.1%} of the ceiling (a constant-answer entry script)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="single-row calls in-process")
    parser.add_argument("--seconds", type=float, default=10, help="HTTP duration per script")
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
