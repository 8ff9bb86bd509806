"""The rules of the policy pack, as plain functions of one resource, one module per resource family.

`base` holds what every rule stands on (`Resource`, `Rule`, the type tokens, the property
helpers). A new rule goes in the module of the family it checks, as a check function plus one row
in that module's `RULES`; a family of its own gets a module here and a place in `FAMILIES`.

Sources: checkov's Azure checks (CKV_AZURE_*), Azure Policy built-in definitions and the Azure
security baseline; where a rule is this project's own, the source says so.
"""

from . import azureml, common, compute, monitoring, storage, transport
from .base import (
    AGENT_POOL,
    APP_INSIGHTS,
    BLOB_CONTAINER,
    CLUSTER,
    CONTAINER_GROUP,
    EXTENSION,
    IDENTITY,
    LOG_WORKSPACE,
    ML_CODE,
    ML_CODE_CONTAINER,
    ML_COMPUTE,
    ML_DATA,
    ML_DATA_CONTAINER,
    ML_DATASTORE,
    ML_DEPLOYMENT,
    ML_ENDPOINT,
    ML_ENVIRONMENT,
    ML_ENVIRONMENT_CONTAINER,
    ML_MODEL,
    ML_MODEL_CONTAINER,
    ML_VERSIONS,
    ML_WORKSPACE,
    REGISTRY,
    REQUIRED_TAGS,
    RESOURCE_GROUP,
    SECRET_WORDS,
    STALE_TAGS,
    STATEFUL,
    STORAGE_ACCOUNT,
    TAGGED,
    TAGGED_IN_PROPERTIES,
    VAULT,
    VERSION_TAGS,
    Check,
    Resource,
    Rule,
    get,
    identity_type,
    items,
    rule,
)
from .common import versions_without_owner_tag
from .compute import aci_secure_values
from .transport import PUBLIC_ENDPOINTS_TLS

FAMILIES = (storage, azureml, compute, monitoring, transport, common)
RULES: tuple[Rule, ...] = tuple(r for family in FAMILIES for r in family.RULES)

__all__ = [  # noqa: RUF022
    "AGENT_POOL",
    "APP_INSIGHTS",
    "BLOB_CONTAINER",
    "CLUSTER",
    "CONTAINER_GROUP",
    "EXTENSION",
    "Check",
    "FAMILIES",
    "PUBLIC_ENDPOINTS_TLS",
    "IDENTITY",
    "LOG_WORKSPACE",
    "ML_CODE",
    "ML_CODE_CONTAINER",
    "ML_COMPUTE",
    "ML_DATA",
    "ML_DATA_CONTAINER",
    "ML_DATASTORE",
    "ML_DEPLOYMENT",
    "ML_ENDPOINT",
    "ML_ENVIRONMENT",
    "ML_ENVIRONMENT_CONTAINER",
    "ML_MODEL",
    "ML_MODEL_CONTAINER",
    "ML_VERSIONS",
    "ML_WORKSPACE",
    "REGISTRY",
    "REQUIRED_TAGS",
    "RESOURCE_GROUP",
    "RULES",
    "Resource",
    "Rule",
    "SECRET_WORDS",
    "STALE_TAGS",
    "STATEFUL",
    "STORAGE_ACCOUNT",
    "TAGGED",
    "TAGGED_IN_PROPERTIES",
    "VAULT",
    "VERSION_TAGS",
    "aci_secure_values",
    "get",
    "identity_type",
    "items",
    "rule",
    "versions_without_owner_tag",
]
