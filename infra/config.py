"""The stack's settings, read once from `pulumi.Config` and checked before any resource exists.

Every key is declared in `Pulumi.yaml` with its type, description and default; the stack files
only override. A bad or missing value raises `ConfigError` naming the key and what it accepts.
"""

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar, cast

import pulumi

from .release import ALLOWED, Release, parse

Target = Literal["aci", "aks"]
Auth = Literal["key", "none"]

TARGETS: tuple[Target, ...] = ("aci", "aks")
AUTH_MODES: tuple[Auth, ...] = ("key", "none")
N = TypeVar("N", int, float)
HOST_NAME = r"(|(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})"


class ConfigError(ValueError):
    def __init__(self, key: str, value: object, allowed: str, *, missing: bool = False) -> None:
        if missing:
            message = (
                f"config key '{key}' is not set; allowed: {allowed} (pulumi config set {key} ...)"
            )
        else:
            message = f"config key '{key}' is {value!r}; allowed: {allowed}"
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    location: str
    name_prefix: str
    owner: str
    target: Target
    auth: Auth
    # dev: Azure Container Instances
    aci_cpu: float
    aci_memory_gb: float
    # prod: AKS through an AzureML Kubernetes online endpoint
    aks_node_size: str
    aks_node_min: int
    aks_node_max: int
    replicas_min: int
    replicas_max: int
    # the inference server, both targets
    worker_count: int
    worker_timeout_s: int
    max_concurrent_requests: int
    request_timeout_ms: int
    # prod: the inference router's transport and exposure (infra/tls.py)
    router_tls: bool
    tls_cname: str
    internal_load_balancer: bool
    # monitoring and protection
    app_insights: bool
    log_retention_days: int
    # what the service scored, kept for drift reports (scoring/capture.py, infra/capture.py)
    capture_sampling_rate: float
    capture_retention_days: int
    protect: bool
    purge_protection: bool
    # CI: the object id of the pull-request preview identity's service principal ("" for none)
    preview_principal_id: str = ""
    # prod rollout: the release serving most traffic (None: the repository's) and the candidate's share
    stable_release: Release | None = None
    candidate_traffic: int = 0

    @property
    def require_key(self) -> bool:
        return self.auth == "key"


class Source(Protocol):
    """Where values come from: `pulumi.Config` in the program, `Values` in offline tools."""

    def require(self, key: str) -> str: ...

    def get(self, key: str) -> str | None: ...

    def get_secret(self, key: str) -> object | None: ...


@dataclass(frozen=True)
class Values:
    """Config values read from the project and stack files without the Pulumi engine."""

    values: Mapping[str, str]

    def require(self, key: str) -> str:
        if key not in self.values:
            raise ConfigError(key, None, "a value in Pulumi.yaml or the stack file")
        return self.values[key]

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def get_secret(self, key: str) -> str | None:
        return self.values.get(key)


def _require(cfg: Source, key: str, allowed: str) -> str:
    """The raw value; a missing key is a ConfigError naming the values it accepts (Pulumi's own
    ConfigMissingError names none). Used for the keys with a fixed set of values."""
    try:
        return cfg.require(key)
    except (ConfigError, pulumi.ConfigMissingError):
        raise ConfigError(key, None, allowed, missing=True) from None


def _choice(cfg: Source, key: str, allowed: tuple[str, ...]) -> str:
    value = _require(cfg, key, " | ".join(allowed))
    if value not in allowed:
        raise ConfigError(key, value, " | ".join(allowed))
    return value


def _ranged(cfg: Source, key: str, low: N, high: N, parse: Callable[[str], N], kind: str) -> N:
    raw = cfg.require(key)
    allowed = f"{kind} from {low} to {high}"
    try:
        value = parse(raw)
    except ValueError:
        raise ConfigError(key, raw, allowed) from None
    if not low <= value <= high:  # also refuses nan
        raise ConfigError(key, value, allowed)
    return value


def _int(cfg: Source, key: str, low: int, high: int) -> int:
    return _ranged(cfg, key, low, high, int, "an integer")


def _number(cfg: Source, key: str, low: float, high: float) -> float:
    return _ranged(cfg, key, low, high, float, "a number")


def _bool(cfg: Source, key: str) -> bool:
    raw = cfg.require(key)
    if raw not in ("true", "false"):
        raise ConfigError(key, raw, "true | false")
    return raw == "true"


def _match(cfg: Source, key: str, pattern: str, allowed: str) -> str:
    value = cfg.require(key)
    if not re.fullmatch(pattern, value):
        raise ConfigError(key, value, allowed)
    return value


def _release(cfg: Source, key: str) -> Release | None:
    """An optional object key, such as `stableRelease: {model: "3", code: ..., environment: ...}`."""
    raw = cfg.get(key)
    if raw is None:
        return None
    try:
        return parse(json.loads(raw))
    except ValueError as error:  # bad JSON or a bad release
        raise ConfigError(key, raw, f"{ALLOWED} ({error})") from None


def load(
    cfg: Source | None = None, project: str | None = None, stack: str | None = None
) -> StackConfig:
    cfg = cfg or pulumi.Config()
    target = cast(Target, _choice(cfg, "target", TARGETS))
    auth = cast(Auth, _choice(cfg, "auth", AUTH_MODES))
    if target == "aks" and auth == "none":
        raise ConfigError(
            "auth", auth, "key (an AzureML Kubernetes endpoint always requires its key)"
        )
    node_min = _int(cfg, "aksNodeMin", 1, 100)
    replicas_min = _int(cfg, "replicasMin", 1, 100)
    stack_config = StackConfig(
        project=project or pulumi.get_project(),
        stack=stack or pulumi.get_stack(),
        location=_match(cfg, "location", r"[a-z0-9]+", "an Azure region name such as westeurope"),
        name_prefix=_match(
            cfg, "namePrefix", r"[a-z][a-z0-9]{1,9}", "2-10 lowercase letters/digits"
        ),
        owner=_match(cfg, "owner", r"\S.{0,255}", "a non-empty team or person (tag value)"),
        target=target,
        auth=auth,
        aci_cpu=_number(cfg, "aciCpu", 0.1, 4),
        aci_memory_gb=_number(cfg, "aciMemoryGb", 0.1, 16),
        aks_node_size=_match(
            cfg, "aksNodeSize", r"Standard_\w+", "an Azure VM size (Standard_...)"
        ),
        aks_node_min=node_min,
        aks_node_max=_int(cfg, "aksNodeMax", node_min, 100),
        replicas_min=replicas_min,
        replicas_max=_int(cfg, "replicasMax", replicas_min, 100),
        worker_count=_int(cfg, "workerCount", 1, 64),
        worker_timeout_s=_int(cfg, "workerTimeoutSeconds", 5, 3600),
        max_concurrent_requests=_int(cfg, "maxConcurrentRequestsPerInstance", 1, 1000),
        request_timeout_ms=_int(cfg, "requestTimeoutMs", 1, 180_000),
        router_tls=_bool(cfg, "routerTls"),
        tls_cname=_match(
            cfg, "tlsCname", HOST_NAME, "empty, or a lowercase DNS name such as scoring.example.com"
        ),
        internal_load_balancer=_bool(cfg, "internalLoadBalancer"),
        app_insights=_bool(cfg, "appInsights"),
        log_retention_days=_int(cfg, "logRetentionDays", 30, 730),
        capture_sampling_rate=_number(cfg, "captureSamplingRate", 0, 1),
        capture_retention_days=_int(cfg, "captureRetentionDays", 1, 3650),
        protect=_bool(cfg, "protect"),
        purge_protection=_bool(cfg, "purgeProtection"),
        preview_principal_id=_match(
            cfg,
            "previewPrincipalId",
            r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "empty, or the object id (a lowercase GUID) of the preview identity's service principal",
        ),
        stable_release=_release(cfg, "stableRelease"),
        candidate_traffic=_int(cfg, "candidateTraffic", 0, 100),
    )
    _check_router_tls(cfg, stack_config)
    return stack_config


# The router's certificate and key (PEM), held only as stack secrets.
TLS_SECRETS = ("tlsCertificate", "tlsKey")


def _check_router_tls(cfg: Source, stack: StackConfig) -> None:
    """prod's router serves TLS unless `routerTls: false`: its name and both secrets must be set
    before anything is declared."""
    if stack.target != "aks" or not stack.router_tls:
        return
    if not stack.tls_cname:
        raise ConfigError(
            "tlsCname",
            "",
            "the DNS name clients use, named by the certificate (or routerTls: false)",
        )
    for key in TLS_SECRETS:
        if cfg.get_secret(key) is None:
            raise ConfigError(key, None, "a PEM set with `pulumi config set --secret`")
