"""The tags every taggable resource carries: one place, asserted in tests."""

from .config import StackConfig

KEYS = ("project", "stack", "owner")


def tags(cfg: StackConfig) -> dict[str, str]:
    return {"project": cfg.project, "stack": cfg.stack, "owner": cfg.owner}
