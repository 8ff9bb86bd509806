"""Load test on loopback: the original entry script against ours on the same azmlinfsrv settings.

For each script, payload size and concurrency it prints requests/s, p50/p95/p99 latency, errors
and the CPU used by the server and by the load generator; then a soak prints the server's
resident memory (summed over its processes) at start and end. Every run is bounded in time.

    python -m load.run [--workers 1] [--server-cpus 0 --client-cpus 1] [--soak 60]
"""

import argparse
import concurrent.futures
import json
import os
import random
import time
import urllib.request

from load import server, wrk
from load.server import MODEL_DIR, SCRIPTS
from scoring.score import SAMPLE_ROW


def _customer(rnd: random.Random) -> list:
    return [
        rnd.randint(350, 850), rnd.choice(["France", "Germany", "Spain"]),
        rnd.choice(["Female", "Male"]), rnd.randint(18, 92), rnd.randint(0, 10),
        round(rnd.uniform(0, 250_000), 2), rnd.randint(1, 4), rnd.randint(0, 1),
        rnd.randint(0, 1), round(rnd.uniform(11, 200_000), 2),
    ]  # fmt: skip


def valid_rows(count: int, seed: int = 0) -> list[list]:
    """Plausible customers in the original request order, the same on every run."""
    rnd = random.Random(seed)
    return [_customer(rnd) for _ in range(count)]


def bodies(rows: int, count: int = 8) -> list[dict]:
    """`count` distinct envelopes of `rows` rows each, sent in turn."""
    return [{"data": valid_rows(rows, seed)} for seed in range(count)]


def score_sample(url: str) -> list[list[float]]:
    request = urllib.request.Request(
        url,
        json.dumps({"data": [SAMPLE_ROW]}).encode(),
        {"Content-Type": "application/json", "Authorization": f"Bearer {wrk.KEY}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(json.loads(response.read()))


def check_answer(url: str, expected: list[list[float]]) -> None:
    got = score_sample(url)
    if abs(got[0][0] - expected[0][0]) > 1e-6 or abs(sum(got[0]) - 1) > 1e-6:
        raise SystemExit(f"wrong answer after load: {got}, expected {expected}")


def row(name, rows, conc, result: wrk.Result, server_cpu_s) -> str:
    cells = [
        name, rows, conc, f"{result.rate:.0f}", f"{result.p50_ms:.1f}", f"{result.p95_ms:.1f}",
        f"{result.p99_ms:.1f}", result.errors, f"{100 * server_cpu_s / result.seconds:.0f}%",
        f"{100 * result.client_cpu_s / result.seconds:.0f}%",
    ]  # fmt: skip
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def run_soak(url, pid, seconds, args) -> tuple[float, float, wrk.Result]:
    """Mixed traffic (one 100-row request in ten) for `seconds`; RSS before and after."""
    mix = bodies(1, 9) + bodies(100, 1)
    wrk.run(url, mix, args.soak_connections, 3, args.client_cpus)  # warm up before measuring
    start = server.rss_mib(pid)
    result = wrk.run(url, mix, args.soak_connections, seconds, args.client_cpus)
    return start, server.rss_mib(pid), result


def run_beside_batches(name, url, args) -> int:
    """Single-row requests on 4 connections while one client sends 10,000-row batches."""
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        batch = pool.submit(wrk.run, url, bodies(10_000, 2), 1, args.seconds, args.client_cpus)
        single = wrk.run(url, bodies(1), 4, args.seconds, args.client_cpus)
        batch = batch.result()
    print(
        f"| {name} beside 10k-row batches ({batch.rate:.1f} batches/s, p50 "
        f"{batch.p50_ms:.0f} ms) | 1 | 4 | {single.rate:.0f} | {single.p50_ms:.1f} | "
        f"{single.p95_ms:.1f} | {single.p99_ms:.1f} | {single.errors + batch.errors} | | |"
    )
    return single.errors + batch.errors


def measure(name, url, pid, reference, args, soak=False) -> int:
    """Print one table line per payload size and concurrency; return the error count."""
    errors = 0
    check_answer(url, reference)  # every script gives the original's answer
    wrk.run(url, bodies(1), 1, 1, args.client_cpus)  # warm-up, not reported
    for rows in (int(r) for r in args.rows.split(",")):
        for conc in (int(c) for c in args.concurrency.split(",")):
            cpu_before = server.cpu_seconds(pid)
            result = wrk.run(url, bodies(rows), conc, args.seconds, args.client_cpus)
            print(row(name, rows, conc, result, server.cpu_seconds(pid) - cpu_before))
            errors += result.errors
            check_answer(url, reference)
    if args.beside_batches:
        errors += run_beside_batches(name, url, args)
    if soak and args.soak:
        start, end, result = run_soak(url, pid, args.soak, args)
        errors += result.errors
        check_answer(url, reference)
        print(
            f"\nsoak {args.soak} s ({name}, {args.soak_connections} connections, "
            f"1 request in 10 of 100 rows): {result.requests} requests, "
            f"{result.errors} errors, {result.rate:.0f} req/s; server RSS "
            f"{start:.1f} MiB at start, {end:.1f} MiB at end "
            f"({100 * (end - start) / start:+.1f}%)"
        )
    return errors


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scripts", default="original,ours", help="comma list of " + str(SCRIPTS))
    parser.add_argument("--workers", type=int, default=1, help="WORKER_COUNT of azmlinfsrv")
    parser.add_argument("--preload", action="store_true", help="WORKER_PRELOAD=true")
    parser.add_argument("--server-cpus", help="taskset CPU list for the server, e.g. 0")
    parser.add_argument("--client-cpus", help="taskset CPU list for wrk, e.g. 1")
    parser.add_argument("--rows", default="1,100", help="rows per request")
    parser.add_argument("--concurrency", default="1,8,32", help="open connections")
    parser.add_argument("--seconds", type=int, default=5, help="duration of each measurement")
    parser.add_argument("--soak", type=int, default=60, help="soak seconds on the last script")
    parser.add_argument("--soak-connections", type=int, default=8)
    parser.add_argument(
        "--beside-batches", action="store_true", help="also single rows beside 10k-row batches"
    )
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    args = parser.parse_args(argv)
    wrk.require_wrk()

    names = [name for name in args.scripts.split(",") if name]
    unknown = [name for name in names if name not in SCRIPTS]
    if unknown:
        raise SystemExit(f"unknown entry scripts: {unknown}; known: {list(SCRIPTS)}")
    env = dict(item.split("=", 1) for item in args.env)
    if args.preload:
        env["WORKER_PRELOAD"] = "true"
    load1, load5, _ = os.getloadavg()
    print(
        f"azmlinfsrv workers={args.workers} preload={args.preload} env={env} "
        f"server cpus={args.server_cpus or 'all'} wrk cpus={args.client_cpus or 'all'} "
        f"({os.cpu_count()} online); load average before: {load1:.2f} {load5:.2f}\n"
    )
    print(
        "| script | rows | conc | req/s | p50 ms | p95 ms | p99 ms | errors | server CPU | wrk CPU |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    total_errors, reference = 0, None
    for name in names:
        settings = env | {"CHURN_SCORING_KEY": wrk.KEY}
        with server.serve(SCRIPTS[name], MODEL_DIR, settings, args.workers, args.server_cpus) as (
            base,
            pid,
        ):
            url = f"{base}/score"
            reference = reference or score_sample(url)
            total_errors += measure(name, url, pid, reference, args, soak=name == names[-1])
        time.sleep(1)
    load1, load5, _ = os.getloadavg()
    print(f"\nerrors in all runs: {total_errors}; load average after: {load1:.2f} {load5:.2f}")
    return 1 if total_errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
