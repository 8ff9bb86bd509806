"""`python -m infra.compare --stack prod`: the candidate deployment against the stable one.

Scores one fixed synthetic sample through each deployment alone (the `azureml-model-deployment`
header bypasses the traffic split), prints the largest |change of p_leave| and how many stay/leave
decisions flip, and exits 1 when either is above its limit. The two deployments are the
repository's release and the stack file's `stableRelease`, named as the program names them; the
endpoint and its key come from the stack's outputs. Without a candidate it says so and exits 0.
"""

import argparse
import contextlib
import json
import random
import sys

from scoring import client

from . import release
from .testing import ROOT, stack_config

SAMPLE_SIZE = 200
SEED = 11


def sample(size: int = SAMPLE_SIZE, seed: int = SEED) -> list[list[object]]:
    """Synthetic customers spread over each feature's plausible range (no real rows), the same
    on every run; in the client's feature order."""
    rng = random.Random(seed)
    rows: list[list[object]] = []
    for _ in range(size):
        rows.append(
            [
                rng.randint(350, 850),
                rng.choice(["France", "Germany", "Spain"]),
                rng.choice(["Female", "Male"]),
                rng.randint(18, 92),
                rng.randint(0, 10),
                0.0 if rng.random() < 0.35 else round(rng.uniform(1_000, 250_000), 2),
                rng.randint(1, 4),
                rng.randint(0, 1),
                rng.randint(0, 1),
                round(rng.uniform(100, 200_000), 2),
            ]
        )
    return rows


def deployments(stack: str) -> tuple[str, str] | None:
    """(stable, candidate) deployment names for `stack`, or None when it runs one release."""
    with contextlib.chdir(ROOT):
        repository = release.repository_release()
        _, values = stack_config(stack.rsplit("/", 1)[-1])
    raw = values.get("churn-scoring:stableRelease")
    stable = release.parse(json.loads(raw)) if raw else None
    if stable is None or stable == repository:
        return None
    return stable.deployment_name, repository.deployment_name


def compare(
    endpoint: str,
    key: str | None,
    stable: str,
    candidate: str,
    rows: list[list[object]],
    threshold: float = 0.5,
    timeout: float = client.DEFAULT_TIMEOUT,
) -> tuple[float, int]:
    """(largest |p_leave change|, decisions that flip) of `candidate` against `stable`."""
    before = client.score(endpoint, rows, key, timeout, deployment=stable)
    after = client.score(endpoint, rows, key, timeout, deployment=candidate)
    delta = max(abs(a[1] - b[1]) for a, b in zip(after, before, strict=True))
    flips = sum(
        client.decision(a[1], threshold) != client.decision(b[1], threshold)
        for a, b in zip(after, before, strict=True)
    )
    return delta, flips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stack", type=client.stack_name, required=True, help="[org/]prod")
    parser.add_argument("--max-delta", type=float, required=True, help="largest |Δp_leave| allowed")
    parser.add_argument("--max-flips", type=int, required=True, help="decisions allowed to flip")
    parser.add_argument("--threshold", type=float, default=0.5, help="p_leave that means leave")
    args = parser.parse_args(argv)
    try:
        names = deployments(args.stack)
        if names is None:
            print(f"{args.stack} runs one release: no candidate to compare")
            return 0
        stable, candidate = names
        target = client.stack_target(args.stack, ROOT)
        delta, flips = compare(target.endpoint, target.key, stable, candidate, sample())
    except (client.ClientError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"candidate {candidate} against stable {stable} on {SAMPLE_SIZE} synthetic customers: "
        f"largest |Δp_leave| {delta:.4f} (limit {args.max_delta:g}), "
        f"{flips} decision(s) flip (limit {args.max_flips})"
    )
    if delta > args.max_delta or flips > args.max_flips:
        print(
            "error: the candidate differs from the stable release beyond the limits",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
