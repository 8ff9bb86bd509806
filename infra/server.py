"""The inference server's environment, shared by both targets (azmlinfsrv and the entry script
read it)."""

from .config import StackConfig


def flag(value: bool) -> str:
    return "true" if value else "false"


def server_env(cfg: StackConfig, require_key: bool) -> dict[str, str]:
    """`require_key`: whether the container checks the key itself (ACI) or the endpoint checks it
    before a request reaches the container (AKS)."""
    return {
        "WORKER_COUNT": str(cfg.worker_count),
        "WORKER_TIMEOUT": str(cfg.worker_timeout_s),
        "CHURN_REQUIRE_KEY": flag(require_key),
    }
