"""`python -m infra.plan STACK [--write]`: the stack's resource plan, offline, from the mocks.

Prints what `infra.testing.run_program` records for the stack; `--write` also refreshes the
committed snapshot `plan/STACK.txt` that the tests compare against. STACK may also name a
scenario below: a stack with config overrides, such as prod during a rollout.
"""

import argparse
import sys

from .testing import ROOT, content_masks, render_plan, run_program

SNAPSHOTS = ROOT / "plan"
# An older stable release serving 90%, the repository's release as a candidate at 10%.
ROLLOUT_STABLE = {"model": "1", "code": "5e7d1c2b9a04", "environment": "3f0a8e6d2c71"}
SCENARIOS = {
    "prod-rollout": ("prod", {"stableRelease": ROLLOUT_STABLE, "candidateTraffic": 10}),
}


def snapshot_path(stack: str):
    return SNAPSHOTS / f"{stack}.txt"


def plan_text(stack: str) -> str:
    base, overrides = SCENARIOS.get(stack, (stack, {}))
    program = run_program(base, overrides=overrides)
    program.stack = stack
    return render_plan(program, content_masks())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("stack", help="dev, prod (reads Pulumi.<stack>.yaml) or prod-rollout")
    parser.add_argument("--write", action="store_true", help="refresh plan/<stack>.txt")
    args = parser.parse_args(argv)
    text = plan_text(args.stack)
    sys.stdout.write(text)
    if args.write:
        SNAPSHOTS.mkdir(exist_ok=True)
        snapshot_path(args.stack).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
