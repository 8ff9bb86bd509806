"""`python -m infra.plan STACK [--full] [--write]`: the stack's resource plan, offline, from mocks.

By default a short summary: the resources each component declares, which of them are billed
while they exist, and what `pulumi up` needs on the machine. `--full` prints every input of
every resource (what `infra.testing.run_program` records; values Azure would compute are the
mocks' stand-ins); `--write` refreshes the committed full listing `plan/STACK.txt` that the tests
compare against.
STACK may also name a scenario below: a stack with config overrides, such as prod during a
rollout.
"""

import argparse
import sys
from collections import Counter

from .config import ConfigError
from .testing import ROOT, DeclaredResource, Program, content_masks, render_plan, run_program

SNAPSHOTS = ROOT / "plan"
# An older stable release serving 90%, the repository's release as a candidate at 10%.
ROLLOUT_STABLE = {"model": "1", "code": "5e7d1c2b9a04", "environment": "3f0a8e6d2c71"}
SCENARIOS = {
    "prod-rollout": ("prod", {"stableRelease": ROLLOUT_STABLE, "candidateTraffic": 10}),
}
CUSTOM_TYPE_PREFIX = "churn:"


def stacks() -> list[str]:
    """The stacks this project has a `Pulumi.<stack>.yaml` for."""
    return sorted(path.name.split(".")[1] for path in ROOT.glob("Pulumi.*.yaml"))


def snapshot_path(stack: str):
    return SNAPSHOTS / f"{stack}.txt"


def plan_program(stack: str) -> Program:
    """The program for a stack, or for a scenario (a stack with config overrides)."""
    base, overrides = SCENARIOS.get(stack, (stack, {}))
    program = run_program(base, overrides=overrides)
    program.stack = stack
    return program


def plan_text(stack: str) -> str:
    return render_plan(plan_program(stack), content_masks())


def _billing(r: DeclaredResource) -> str | None:
    """How Azure bills a declared resource while it exists; None for the free ones (the AzureML
    workspace, endpoint, assets, identities and role assignments cost nothing by themselves)."""
    kind = r.type.split(":")[-1]
    if kind == "ManagedCluster":
        pool = r.get("agentPoolProfiles.0") or {}
        size, count = pool.get("vmSize"), pool.get("count")
        return f"system pool {count} x {size} VM with its disk, plus the load balancer AKS adds"
    if kind == "AgentPool":
        size, low, high = r.get("vmSize"), r.get("minCount"), r.get("maxCount")
        return f"{low}-{high} x {size} VMs with their disks (autoscaled)"
    if kind == "ContainerGroup":
        containers = r.get("containers") or []
        cpu = sum(c["resources"]["requests"]["cpu"] for c in containers)
        memory = sum(c["resources"]["requests"]["memoryInGB"] for c in containers)
        return (
            f"{cpu:g} vCPU, {memory:g} GB in {len(containers)} containers, per second while running"
        )
    if kind == "Registry":
        return f"{r.get('sku.name')} registry, a daily fee"
    if kind == "StorageAccount":
        return f"{r.get('sku.name')} storage, per GB stored and per operation"
    if r.type.endswith("operationalinsights:Workspace"):
        return f"logs per GB ingested, kept {r.get('retentionInDays')} days"
    if kind == "Component":
        return "Application Insights telemetry per GB ingested (into the logs above)"
    if kind == "Vault":
        return "key vault, per operation"
    return None


def needs_locally(program: Program) -> list[str]:
    """What `pulumi up` (not this offline plan) needs on the machine that runs it."""
    needs = [
        "the Pulumi CLI and a stack backend (pulumi login)",
        "an Azure login allowed to create role assignments (az login, or ARM_* variables)",
    ]
    if program.of_type("docker-build:index:Image"):
        needs.append(
            "Docker with buildx: `up` builds scoring/Dockerfile for linux/amd64 and pushes it"
        )
    return needs


def summary(program: Program) -> str:
    components = [r for r in program.resources if r.type.startswith(CUSTOM_TYPE_PREFIX)]
    per_parent = Counter(r.parent for r in program.resources if r.custom)
    head = (
        f"# stack {program.stack}: {sum(per_parent.values())} resources in "
        f"{len(components)} components (offline, under mocks; "
        f"every input: make plan STACK={program.stack} FULL=1)"
    )
    lines = [head, "", "component                       resources"]
    for c in sorted(components, key=lambda c: c.type):
        lines.append(f"  {c.type:<30}{per_parent[c.urn]:>5}")
    lines += ["", "billed while they exist (make cost STACK=... prices them):"]
    for r in sorted(program.resources, key=lambda r: r.type):
        if r.custom and (billing := _billing(r)):
            lines.append(f"  {r.type.split(':')[-1]:<16} {r.name:<12} {billing}")
    lines += ["", "`pulumi up` needs on this machine:"]
    lines += [f"  - {need}" for need in needs_locally(program)]
    lines += ["", "outputs:"]
    lines += [f"  {key}" for key in sorted(program.outputs)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("stack", help="dev, prod (reads Pulumi.<stack>.yaml) or prod-rollout")
    parser.add_argument("--full", action="store_true", help="every input of every resource")
    parser.add_argument("--write", action="store_true", help="refresh plan/<stack>.txt")
    args = parser.parse_args(argv)
    known = stacks()
    if args.stack not in known and args.stack not in SCENARIOS:
        print(
            f"error: unknown stack {args.stack!r}; this project has {' and '.join(known)} "
            f"(Pulumi.<stack>.yaml), and the scenario {', '.join(SCENARIOS)}",
            file=sys.stderr,
        )
        return 2
    try:
        program = plan_program(args.stack)
    except ConfigError as exc:
        print(f"error: stack {args.stack}: {exc}", file=sys.stderr)
        return 2
    if args.full or args.write:
        text = render_plan(program, content_masks())
        if args.write:
            SNAPSHOTS.mkdir(exist_ok=True)
            snapshot_path(args.stack).write_text(text)
    else:
        text = summary(program)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
