"""The rules of the policy pack, as plain functions of one resource.

Each check takes a `Resource` (type token, input properties, protect flag) and returns a sentence
describing the violation, or None. Property names are the azure-native v3 wire names (camelCase),
as the Pulumi engine hands them to a policy pack and to mocks. Values may be plain dicts/lists or
the read-only mapping/sequence proxies of pulumi-policy, so the helpers accept any Mapping or
Sequence.

Sources: checkov's Azure checks (CKV_AZURE_*), Azure Policy built-in definitions and the Azure
security baseline; where a rule is this project's own, the source says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
BLOB_CONTAINER = "azure-native:storage:BlobContainer"
VAULT = "azure-native:keyvault:Vault"
REGISTRY = "azure-native:containerregistry:Registry"
LOG_WORKSPACE = "azure-native:operationalinsights:Workspace"
APP_INSIGHTS = "azure-native:applicationinsights:Component"
ML_WORKSPACE = "azure-native:machinelearningservices:Workspace"
ML_ENDPOINT = "azure-native:machinelearningservices:OnlineEndpoint"
ML_DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"
ML_COMPUTE = "azure-native:machinelearningservices:Compute"
ML_ENVIRONMENT = "azure-native:machinelearningservices:EnvironmentVersion"
ML_MODEL = "azure-native:machinelearningservices:ModelVersion"
ML_CODE = "azure-native:machinelearningservices:CodeVersion"
ML_MODEL_CONTAINER = "azure-native:machinelearningservices:ModelContainer"
ML_ENVIRONMENT_CONTAINER = "azure-native:machinelearningservices:EnvironmentContainer"
ML_CODE_CONTAINER = "azure-native:machinelearningservices:CodeContainer"
ML_DATASTORE = "azure-native:machinelearningservices:Datastore"
CONTAINER_GROUP = "azure-native:containerinstance:ContainerGroup"
CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
RESOURCE_GROUP = "azure-native:resources:ResourceGroup"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"

REQUIRED_TAGS = ("project", "stack", "owner")
# AzureML lets a version's tags and description be updated (`az ml model update --set tags...`),
# but the versions a rollout goes back to are retained outside the stack (assets.py), where no
# `pulumi up` retags them: an owner tag on them would go stale. They carry only what never
# changes for a stack.
ML_VERSIONS = (ML_MODEL, ML_ENVIRONMENT, ML_CODE)
VERSION_TAGS = ("project", "stack")
STALE_TAGS = tuple(t for t in REQUIRED_TAGS if t not in VERSION_TAGS)
# Types whose tags are a top-level input, and types (AzureML assets, their containers and
# datastores) that keep them in properties.
TAGGED = (
    RESOURCE_GROUP, STORAGE_ACCOUNT, VAULT, REGISTRY, LOG_WORKSPACE, APP_INSIGHTS, ML_WORKSPACE,
    ML_ENDPOINT, ML_DEPLOYMENT, ML_COMPUTE, CONTAINER_GROUP, CLUSTER, AGENT_POOL, IDENTITY,
)  # fmt: skip
TAGGED_IN_PROPERTIES = (
    ML_ENVIRONMENT, ML_MODEL, ML_CODE, ML_MODEL_CONTAINER, ML_ENVIRONMENT_CONTAINER,
    ML_CODE_CONTAINER, ML_DATASTORE,
)  # fmt: skip
# Stateful resources: losing one loses data or a name that Azure soft-deletes.
STATEFUL = (STORAGE_ACCOUNT, VAULT, REGISTRY, LOG_WORKSPACE, ML_WORKSPACE)
SECRET_WORDS = ("KEY", "SECRET", "TOKEN", "PASSWORD", "PWD")


@dataclass(frozen=True)
class Resource:
    type: str
    props: Mapping[str, Any]
    protect: bool = False


Check = Callable[[Resource], "str | None"]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    mandatory: bool
    source: str
    types: tuple[str, ...]
    check: Check = field(repr=False)

    def applies_to(self, resource_type: str) -> bool:
        return resource_type in self.types


def get(props: Any, *path: str | int) -> Any:
    """The value at a path of keys/indexes, or None when any step is missing."""
    value = props
    for step in path:
        if isinstance(step, int):
            if not _is_list(value) or step >= len(value):
                return None
            value = value[step]
        else:
            if not isinstance(value, Mapping) or step not in value:
                return None
            value = value[step]
    return value


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def items(value: Any) -> list[Any]:
    return list(value) if _is_list(value) else []


# --- storage -------------------------------------------------------------------------------------


def storage_https_only(r: Resource) -> str | None:
    """Storage accounts accept HTTPS only."""
    if get(r.props, "enableHttpsTrafficOnly") is not True:
        return "enableHttpsTrafficOnly must be true: no plain-HTTP access to the account"
    return None


def storage_min_tls(r: Resource) -> str | None:
    """Storage accounts refuse TLS below 1.2."""
    if get(r.props, "minimumTlsVersion") not in ("TLS1_2", "TLS1_3"):
        return "minimumTlsVersion must be TLS1_2 or later"
    return None


def storage_no_public_blobs(r: Resource) -> str | None:
    """Storage accounts forbid anonymous blob access."""
    if get(r.props, "allowBlobPublicAccess") is not False:
        return "allowBlobPublicAccess must be false: no anonymous reads of any container"
    return None


def storage_geo_redundant(r: Resource) -> str | None:
    """Storage accounts replicate to a second region."""
    sku = get(r.props, "sku", "name") or ""
    if not any(sku.endswith(kind) for kind in ("_GRS", "_RAGRS", "_GZRS", "_RAGZRS")):
        return f"sku {sku or '(unset)'} keeps no copy in a second region"
    return None


def container_private(r: Resource) -> str | None:
    """Blob containers are private."""
    if get(r.props, "publicAccess") not in (None, "None"):
        return "publicAccess must be None: containers are never anonymously readable"
    return None


# --- key vault -----------------------------------------------------------------------------------


def vault_rbac(r: Resource) -> str | None:
    """Key vaults use the Azure RBAC permission model."""
    if get(r.props, "properties", "enableRbacAuthorization") is not True:
        return "properties.enableRbacAuthorization must be true (Azure RBAC, not access policies)"
    return None


def vault_soft_delete(r: Resource) -> str | None:
    """Key vaults keep soft delete on."""
    if get(r.props, "properties", "enableSoftDelete") is False:
        return "properties.enableSoftDelete must not be false"
    return None


def vault_purge_protection(r: Resource) -> str | None:
    """Key vaults have purge protection."""
    if get(r.props, "properties", "enablePurgeProtection") is not True:
        return "properties.enablePurgeProtection must be true: deleted secrets cannot be purged"
    return None


def vault_firewall(r: Resource) -> str | None:
    """Key vaults deny network access by default and let trusted Azure services through."""
    # The AzureML workspace reaches its vault as a trusted Microsoft service: a firewall without
    # the AzureServices bypass breaks the workspace (Microsoft Learn, "Secure an Azure Machine
    # Learning workspace with virtual networks", key vault section).
    acls = get(r.props, "properties", "networkAcls")
    bypass = str(get(acls, "bypass") or "")
    if get(acls, "defaultAction") != "Deny":
        return (
            "properties.networkAcls could set defaultAction Deny with bypass AzureServices "
            "(the workspace reaches its vault as a trusted service)"
        )
    if "AzureServices" not in bypass:
        return (
            "networkAcls denies by default without bypass AzureServices: the workspace is shut out"
        )
    return None


# --- registry ------------------------------------------------------------------------------------


def registry_admin_off(r: Resource) -> str | None:
    """Container registries have the admin user disabled."""
    if get(r.props, "adminUserEnabled") is not False:
        return "adminUserEnabled must be false: pulls and pushes go through Entra ID identities"
    return None


def registry_anonymous_pull_off(r: Resource) -> str | None:
    """Container registries refuse anonymous pulls."""
    if get(r.props, "anonymousPullEnabled") is True:
        return "anonymousPullEnabled must not be true: the scoring image is not public"
    return None


# --- AzureML -------------------------------------------------------------------------------------


def _identity_type(r: Resource) -> str:
    return str(get(r.props, "identity", "type") or "")


def workspace_identity(r: Resource) -> str | None:
    """AzureML workspaces run with a managed identity."""
    if "Assigned" not in _identity_type(r):
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


# --- container instances -------------------------------------------------------------------------


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
    if "Assigned" not in _identity_type(r):
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


# --- AKS -----------------------------------------------------------------------------------------


def aks_rbac(r: Resource) -> str | None:
    """AKS clusters enable Kubernetes RBAC."""
    if get(r.props, "enableRBAC") is not True:
        return "enableRBAC must be true"
    return None


def aks_managed_identity(r: Resource) -> str | None:
    """AKS clusters run with a managed identity, no service principal secret."""
    if "Assigned" not in _identity_type(r):
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


# --- monitoring ----------------------------------------------------------------------------------


def insights_workspace_based(r: Resource) -> str | None:
    """Application Insights is workspace-based (Log Analytics)."""
    if not get(r.props, "workspaceResourceId"):
        return "workspaceResourceId must name a Log Analytics workspace (workspace-based)"
    if get(r.props, "ingestionMode") not in (None, "LogAnalytics"):
        return "ingestionMode must be LogAnalytics"
    return None


def log_retention(r: Resource) -> str | None:
    """Log Analytics keeps logs at least 90 days."""
    days = get(r.props, "retentionInDays")
    if not isinstance(days, int | float) or days < 90:
        return f"retentionInDays is {days}; keep logs at least 90 days"
    return None


# --- every resource ------------------------------------------------------------------------------


def tags_present(r: Resource) -> str | None:
    """Taggable resources carry the project, stack and owner tags (asset versions: project and
    stack)."""
    where = ("properties", "tags") if r.type in TAGGED_IN_PROPERTIES else ("tags",)
    found = get(r.props, *where)
    required = VERSION_TAGS if r.type in ML_VERSIONS else REQUIRED_TAGS
    missing = [t for t in required if not get(found, t)]
    if missing:
        return f"missing tag(s) {', '.join(missing)}"
    return None


def versions_without_owner_tag(r: Resource) -> str | None:
    """AzureML asset versions carry no owner tag: retained versions leave the stack, which can
    no longer retag them, so the tag would go stale."""
    found = [t for t in STALE_TAGS if get(get(r.props, "properties", "tags"), t) is not None]
    if found:
        return (
            f"tag(s) {', '.join(found)} would go stale on versions retained outside the stack; "
            "keep them on the asset's container"
        )
    return None


def stateful_protected(r: Resource) -> str | None:
    """Stateful resources are protected from deletion."""
    if not r.protect:
        return "stateful resource without `protect`: a stray destroy would lose it"
    return None


def image_references(r: Resource) -> list[str]:
    if r.type == CONTAINER_GROUP:
        return [str(get(c, "image") or "") for c in items(get(r.props, "containers"))]
    return [str(get(r.props, "properties", "image") or "")]


def images_pinned(r: Resource) -> str | None:
    """Container images are pinned by digest, never `latest` or a bare tag."""
    for image in image_references(r):
        last = image.rsplit("/", 1)[-1]
        if "@sha256:" not in image:
            kind = "`latest`" if last.endswith(":latest") or ":" not in last else "a tag only"
            return f"image {image or '(unset)'} is pinned by {kind}; pin it by digest (@sha256:...)"
    return None


def rule(name: str, mandatory: bool, source: str, types: tuple[str, ...], check: Check) -> Rule:
    """A table row; the check's docstring is the rule's description."""
    return Rule(name, (check.__doc__ or name).strip(), mandatory, source, types, check)


M, A = True, False
RULES: tuple[Rule, ...] = (
    rule("storage-https-only", M, "CKV_AZURE_3", (STORAGE_ACCOUNT,), storage_https_only),
    rule("storage-min-tls-1-2", M, "CKV_AZURE_44", (STORAGE_ACCOUNT,), storage_min_tls),
    rule("storage-no-public-blob-access", M, "CKV_AZURE_190", (STORAGE_ACCOUNT,), storage_no_public_blobs),
    rule("storage-container-private", M, "CKV_AZURE_34", (BLOB_CONTAINER,), container_private),
    rule("storage-geo-redundant", A, "CKV_AZURE_206", (STORAGE_ACCOUNT,), storage_geo_redundant),
    rule("keyvault-rbac", M, "Azure Policy: Key Vault should use RBAC permission model", (VAULT,), vault_rbac),
    rule("keyvault-soft-delete", M, "CKV_AZURE_42", (VAULT,), vault_soft_delete),
    rule("keyvault-purge-protection", M, "CKV_AZURE_110", (VAULT,), vault_purge_protection),
    rule("keyvault-firewall", A, "CKV_AZURE_109", (VAULT,), vault_firewall),
    rule("acr-admin-user-off", M, "CKV_AZURE_137", (REGISTRY,), registry_admin_off),
    rule("acr-anonymous-pull-off", M, "CKV_AZURE_138", (REGISTRY,), registry_anonymous_pull_off),
    rule("ml-workspace-managed-identity", M, "Azure security baseline (managed identities)", (ML_WORKSPACE,), workspace_identity),
    rule("ml-workspace-public-access-explicit", M, "this project", (ML_WORKSPACE,), workspace_public_access_explicit),
    rule("ml-workspace-private", A, "CKV_AZURE_144", (ML_WORKSPACE,), workspace_private),
    rule("ml-endpoint-auth-required", M, "this project; Microsoft Learn: aad_token is for managed endpoints only", (ML_ENDPOINT,), endpoint_auth),
    rule("ml-deployment-probes", A, "this project", (ML_DEPLOYMENT,), deployment_probes),
    rule("ml-deployment-app-insights", A, "this project", (ML_DEPLOYMENT,), deployment_app_insights),
    rule("ml-compute-local-auth-off", A, "CKV_AZURE_142 (compute clusters)", (ML_COMPUTE,), compute_local_auth_off),
    rule("aci-secrets-secure-values", M, "CKV_AZURE_235 (for secret-like names)", (CONTAINER_GROUP,), aci_secure_values),
    rule("aci-identity-pulls", M, "this project", (CONTAINER_GROUP,), aci_identity_pulls),
    rule("aci-probes", A, "this project", (CONTAINER_GROUP,), aci_probes),
    rule("aks-rbac", M, "CKV_AZURE_5", (CLUSTER,), aks_rbac),
    rule("aks-managed-identity", M, "Azure security baseline (managed identities)", (CLUSTER,), aks_managed_identity),
    rule("aks-autoscaling", M, "this project", (CLUSTER,), aks_autoscaling),
    rule("aks-network-policy", A, "CKV_AZURE_7", (CLUSTER,), aks_network_policy),
    rule("appinsights-workspace-based", M, "this project (classic App Insights is retired)", (APP_INSIGHTS,), insights_workspace_based),
    rule("log-retention-90-days", M, "this project", (LOG_WORKSPACE,), log_retention),
    rule("tags-required", M, "this project", TAGGED + TAGGED_IN_PROPERTIES, tags_present),
    rule("ml-versions-no-owner-tag", A, "this project (retained versions leave the stack)", ML_VERSIONS, versions_without_owner_tag),
    rule("stateful-resources-protected", M, "this project", STATEFUL, stateful_protected),
    rule("images-pinned-by-digest", M, "this project", (CONTAINER_GROUP, ML_ENVIRONMENT), images_pinned),
)  # fmt: skip
