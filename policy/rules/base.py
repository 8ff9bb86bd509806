"""What every rule stands on: the `Resource` a check reads, the `Rule` row, the type tokens the
rules name and the helpers that read properties.

Each check takes a `Resource` (type token, input properties, protect flag) and returns a sentence
describing the violation, or None. Property names are the azure-native v3 wire names (camelCase),
as the Pulumi engine hands them to a policy pack and to mocks. Values may be plain dicts/lists or
the read-only mapping/sequence proxies of pulumi-policy, so the helpers accept any Mapping or
Sequence.
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
ML_DATA_CONTAINER = "azure-native:machinelearningservices:DataContainer"
ML_DATA = "azure-native:machinelearningservices:DataVersion"
CONTAINER_GROUP = "azure-native:containerinstance:ContainerGroup"
CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
EXTENSION = "azure-native:kubernetesconfiguration:Extension"
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
    ML_CODE_CONTAINER, ML_DATASTORE, ML_DATA, ML_DATA_CONTAINER,
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


def identity_type(r: Resource) -> str:
    return str(get(r.props, "identity", "type") or "")


def rule(name: str, mandatory: bool, source: str, types: tuple[str, ...], check: Check) -> Rule:
    """A table row; the check's docstring is the rule's description."""
    return Rule(name, (check.__doc__ or name).strip(), mandatory, source, types, check)


M, A = True, False  # mandatory, advisory
