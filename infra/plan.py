"""`python -m infra.plan STACK [--write]`: the stack's resource plan, offline, from the mocks.

Prints what `infra.testing.run_program` records for the stack; `--write` also refreshes the
committed snapshot `plan/STACK.txt` that the tests compare against.
"""

import argparse
import sys

from .testing import ROOT, content_masks, render_plan, run_program

SNAPSHOTS = ROOT / "plan"


def snapshot_path(stack: str):
    return SNAPSHOTS / f"{stack}.txt"


def plan_text(stack: str) -> str:
    return render_plan(run_program(stack), content_masks())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("stack", help="dev or prod (reads Pulumi.<stack>.yaml)")
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
