"""Where the data and the images live: storage accounts and containers, key vaults, registries."""

from __future__ import annotations

from .base import (
    BLOB_CONTAINER,
    REGISTRY,
    STORAGE_ACCOUNT,
    VAULT,
    A,
    M,
    Resource,
    Rule,
    get,
    rule,
)


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
)  # fmt: skip
