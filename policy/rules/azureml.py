"""The AzureML workspace, its online endpoints and deployments, and computes."""

from __future__ import annotations

from .base import (
    ML_COMPUTE,
    ML_DEPLOYMENT,
    ML_ENDPOINT,
    ML_WORKSPACE,
    A,
    M,
    Resource,
    Rule,
    get,
    identity_type,
    rule,
)


def workspace_identity(r: Resource) -> str | None:
    """AzureML workspaces run with a managed identity."""
    if "Assigned" not in identity_type(r):
        return "identity.type must be SystemAssigned and/or UserAssigned (a managed identity)"
    return None


def workspace_public_access_explicit(r: Resource) -> str | None:
    """AzureML workspaces state their public network access explicitly."""
    if get(r.props, "publicNetworkAccess") not in ("Enabled", "Disabled"):
        return "publicNetworkAccess must be set explicitly, so that exposure is a visible choice"
    return None


def workspace_private(r: Resource) -> str | None:
    """AzureML workspaces disable public network access."""
    if get(r.props, "publicNetworkAccess") != "Disabled":
        return "publicNetworkAccess should be Disabled (private endpoints only)"
    return None


def endpoint_auth(r: Resource) -> str | None:
    """AzureML online endpoints always require auth: key, AML token, or (managed endpoints only)
    Entra ID token."""
    # "Authenticate clients for online endpoints" (Microsoft Learn): aad_token is for managed
    # endpoints only; key and aml_token work on both. An endpoint with `compute` is on Kubernetes.
    kubernetes = bool(get(r.props, "properties", "compute"))
    allowed = ("Key", "AMLToken") if kubernetes else ("Key", "AMLToken", "AADToken")
    mode = get(r.props, "properties", "authMode")
    if mode not in allowed:
        where = "a Kubernetes" if kubernetes else "a managed"
        return f"properties.authMode is {mode!r}; on {where} endpoint it must be {' or '.join(allowed)}"
    return None


def deployment_probes(r: Resource) -> str | None:
    """AzureML online deployments declare liveness and readiness probes."""
    missing = [p for p in ("livenessProbe", "readinessProbe") if not get(r.props, "properties", p)]
    if missing:
        return f"properties.{' and '.join(missing)} should be set"
    return None


def deployment_app_insights(r: Resource) -> str | None:
    """AzureML online deployments send telemetry to Application Insights."""
    if get(r.props, "properties", "appInsightsEnabled") is not True:
        return "properties.appInsightsEnabled should be true (request telemetry)"
    return None


def compute_local_auth_off(r: Resource) -> str | None:
    """AzureML computes disable local authentication."""
    if get(r.props, "properties", "disableLocalAuth") is not True:
        return "properties.disableLocalAuth should be true (Entra ID only)"
    return None


RULES: tuple[Rule, ...] = (
    rule("ml-workspace-managed-identity", M, "Azure security baseline (managed identities)", (ML_WORKSPACE,), workspace_identity),
    rule("ml-workspace-public-access-explicit", M, "this project", (ML_WORKSPACE,), workspace_public_access_explicit),
    rule("ml-workspace-private", A, "CKV_AZURE_144", (ML_WORKSPACE,), workspace_private),
    rule("ml-endpoint-auth-required", M, "this project; Microsoft Learn: aad_token is for managed endpoints only", (ML_ENDPOINT,), endpoint_auth),
    rule("ml-deployment-probes", A, "this project", (ML_DEPLOYMENT,), deployment_probes),
    rule("ml-deployment-app-insights", A, "this project", (ML_DEPLOYMENT,), deployment_app_insights),
    rule("ml-compute-local-auth-off", A, "CKV_AZURE_142 (compute clusters)", (ML_COMPUTE,), compute_local_auth_off),
)  # fmt: skip
