"""What runs the scoring container: container instances (dev) and AKS clusters (prod)."""

from __future__ import annotations

from typing import Any

from .base import (
    CLUSTER,
    CONTAINER_GROUP,
    SECRET_WORDS,
    A,
    M,
    Resource,
    Rule,
    get,
    identity_type,
    items,
    rule,
)


def _looks_secret(name: str, value: Any) -> bool:
    """A name that marks a secret (..._KEY, ..._TOKEN, ...) unless the value is a flag or number."""
    words = set(name.upper().replace("-", "_").split("_"))
    if not words & set(SECRET_WORDS) and "CONNECTION_STRING" not in name.upper():
        return False
    text = str(value).strip().lower()
    return text not in ("true", "false", "") and not text.replace(".", "", 1).isdigit()


def aci_secure_values(r: Resource) -> str | None:
    """Container instances pass secrets only as secure values."""
    for container in items(get(r.props, "containers")):
        for var in items(get(container, "environmentVariables")):
            name, value = str(get(var, "name") or ""), get(var, "value")
            if value is not None and _looks_secret(name, value):
                return f"environment variable {name} holds a secret in `value`; use `secureValue`"
    return None


def aci_identity_pulls(r: Resource) -> str | None:
    """Container instances pull images with a managed identity, never a password."""
    if "Assigned" not in identity_type(r):
        return "the container group needs a managed identity to pull its image"
    for credential in items(get(r.props, "imageRegistryCredentials")):
        server = get(credential, "server")
        if get(credential, "password") is not None or get(credential, "username") is not None:
            return f"registry {server} is reached with a username/password; use `identity`"
        if not get(credential, "identity"):
            return f"registry {server} must be reached through a managed identity"
    return None


def aci_probes(r: Resource) -> str | None:
    """Container instances declare liveness and readiness probes."""
    for container in items(get(r.props, "containers")):
        if not get(container, "livenessProbe") or not get(container, "readinessProbe"):
            return f"container {get(container, 'name')} should have liveness and readiness probes"
    return None


def aks_rbac(r: Resource) -> str | None:
    """AKS clusters enable Kubernetes RBAC."""
    if get(r.props, "enableRBAC") is not True:
        return "enableRBAC must be true"
    return None


def aks_managed_identity(r: Resource) -> str | None:
    """AKS clusters run with a managed identity, no service principal secret."""
    if "Assigned" not in identity_type(r):
        return "identity.type must be SystemAssigned or UserAssigned (no service principal)"
    if get(r.props, "servicePrincipalProfile", "secret") is not None:
        return "servicePrincipalProfile.secret must not be set; use the managed identity"
    return None


def aks_autoscaling(r: Resource) -> str | None:
    """AKS node pools autoscale within stated bounds."""
    pools = items(get(r.props, "agentPoolProfiles"))
    if not pools:
        return "agentPoolProfiles must declare at least one pool"
    for pool in pools:
        low, high = get(pool, "minCount"), get(pool, "maxCount")
        if get(pool, "enableAutoScaling") is not True or low is None or high is None:
            return (
                f"pool {get(pool, 'name')} must autoscale (enableAutoScaling, minCount, maxCount)"
            )
        if low > high:
            return f"pool {get(pool, 'name')} has minCount {low} above maxCount {high}"
    return None


def aks_network_policy(r: Resource) -> str | None:
    """AKS clusters enforce a network policy."""
    if get(r.props, "networkProfile", "networkPolicy") not in ("azure", "calico", "cilium"):
        return "networkProfile.networkPolicy should be azure, calico or cilium"
    return None


RULES: tuple[Rule, ...] = (
    rule("aci-secrets-secure-values", M, "CKV_AZURE_235 (for secret-like names)", (CONTAINER_GROUP,), aci_secure_values),
    rule("aci-identity-pulls", M, "this project", (CONTAINER_GROUP,), aci_identity_pulls),
    rule("aci-probes", A, "this project", (CONTAINER_GROUP,), aci_probes),
    rule("aks-rbac", M, "CKV_AZURE_5", (CLUSTER,), aks_rbac),
    rule("aks-managed-identity", M, "Azure security baseline (managed identities)", (CLUSTER,), aks_managed_identity),
    rule("aks-autoscaling", M, "this project", (CLUSTER,), aks_autoscaling),
    rule("aks-network-policy", A, "CKV_AZURE_7", (CLUSTER,), aks_network_policy),
)  # fmt: skip
