"""The AzureML workspace and what it stands on: resource group, storage, vault, logs, registry."""

import uuid

import pulumi
from pulumi_azure_native import (
    applicationinsights,
    authorization,
    containerregistry,
    keyvault,
    operationalinsights,
    resources,
    storage,
)
from pulumi_azure_native import machinelearningservices as ml

from . import roles
from .config import StackConfig
from .propagation import after_roles
from .tags import tags

DATASTORE = "churn_assets"
# The one action a preview of the ACI target needs beyond Reader: the container group's log
# analytics settings read the workspace's shared key, a POST ("Azure resource provider
# operations", Microsoft.OperationalInsights). No built-in role holds it without write/delete.
SHARED_KEY_READ = "Microsoft.OperationalInsights/workspaces/sharedKeys/action"
# Namespace of the custom role's GUID, derived from the resource group's id: stable for a stack,
# new for a re-created (re-autonamed) group.
ROLE_NAMESPACE = uuid.UUID("6f1d7c1e-3b0a-4f4e-9a59-2d7f3c8b1e42")


class Workspace(pulumi.ComponentResource):
    """Physical names are left to autonaming (a random suffix), so that a destroyed stack, whose
    workspace and vault Azure soft-deletes, can be brought up again at once."""

    def __init__(
        self, name: str, cfg: StackConfig, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("churn:ml:Workspace", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=cfg.protect)
        common = tags(cfg)
        client = authorization.get_client_config_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        )
        self.subscription_id: pulumi.Output[str] = client.subscription_id

        self.resource_group = resources.ResourceGroup(
            f"{name}-rg", location=cfg.location, tags=common, opts=child
        )
        rg = self.resource_group.name

        self.storage_account = storage.StorageAccount(
            f"{name}st",
            resource_group_name=rg,
            location=cfg.location,
            kind=storage.Kind.STORAGE_V2,
            sku=storage.SkuArgs(name=storage.SkuName.STANDARD_LRS),
            enable_https_traffic_only=True,
            minimum_tls_version=storage.MinimumTlsVersion.TLS1_2,
            allow_blob_public_access=False,
            tags=common,
            opts=stateful,
        )
        self.container = storage.BlobContainer(
            f"{name}-assets",
            resource_group_name=rg,
            account_name=self.storage_account.name,
            public_access=storage.PublicAccess.NONE,
            opts=child,
        )

        self.vault = keyvault.Vault(
            f"{name}-kv",
            resource_group_name=rg,
            location=cfg.location,
            properties=keyvault.VaultPropertiesArgs(
                tenant_id=client.tenant_id,
                sku=keyvault.SkuArgs(family=keyvault.SkuFamily.A, name=keyvault.SkuName.STANDARD),
                enable_rbac_authorization=True,
                # Azure refuses an explicit false; leaving it unset means "off".
                enable_purge_protection=True if cfg.purge_protection else None,
            ),
            tags=common,
            opts=stateful,
        )

        self.logs = operationalinsights.Workspace(
            f"{name}-logs",
            resource_group_name=rg,
            location=cfg.location,
            sku=operationalinsights.WorkspaceSkuArgs(
                name=operationalinsights.WorkspaceSkuNameEnum.PER_GB2018
            ),
            retention_in_days=cfg.log_retention_days,
            tags=common,
            opts=stateful,
        )
        if cfg.preview_principal_id and cfg.target == "aci":
            self._grant_shared_key_read(name, cfg.preview_principal_id, child)
        self.insights = applicationinsights.Component(
            f"{name}-appi",
            resource_group_name=rg,
            location=cfg.location,
            kind="web",
            application_type=applicationinsights.ApplicationType.WEB,
            ingestion_mode=applicationinsights.IngestionMode.LOG_ANALYTICS,
            workspace_resource_id=self.logs.id,
            tags=common,
            opts=child,
        )

        self.registry = containerregistry.Registry(
            f"{name}acr",
            resource_group_name=rg,
            location=cfg.location,
            sku=containerregistry.SkuArgs(name=containerregistry.SkuName.BASIC),
            admin_user_enabled=False,
            tags=common,
            opts=stateful,
        )

        self.workspace = ml.Workspace(
            f"{name}-mlw",
            resource_group_name=rg,
            location=cfg.location,
            identity=ml.ManagedServiceIdentityArgs(
                type=ml.ManagedServiceIdentityType.SYSTEM_ASSIGNED
            ),
            sku=ml.SkuArgs(name="Basic", tier=ml.SkuTier.BASIC),
            friendly_name=f"{cfg.project} ({cfg.stack})",
            storage_account=self.storage_account.id,
            key_vault=self.vault.id,
            application_insights=self.insights.id,
            container_registry=self.registry.id,
            public_network_access=ml.PublicNetworkAccessType.ENABLED,
            tags=common,
            opts=stateful,
        )
        ws = self.workspace.name

        # The assets live in our own container, reached by the workspace's identity.
        principal = self.workspace.identity.apply(lambda i: i.principal_id if i else "")
        self.blob_reader = authorization.RoleAssignment(
            f"{name}-mlw-blob-reader",
            scope=self.storage_account.id,
            principal_id=principal,
            principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
            role_definition_id=roles.role_definition_id(
                self.subscription_id, roles.STORAGE_BLOB_DATA_READER
            ),
            opts=child,
        )
        self.datastore = ml.Datastore(
            f"{name}-datastore",
            name=DATASTORE,
            resource_group_name=rg,
            workspace_name=ws,
            properties=ml.AzureBlobDatastoreArgs(
                datastore_type="AzureBlob",
                account_name=self.storage_account.name,
                container_name=self.container.name,
                credentials=ml.NoneDatastoreCredentialsArgs(credentials_type="None"),
                service_data_access_auth_identity=(
                    ml.ServiceDataAccessAuthIdentity.WORKSPACE_SYSTEM_ASSIGNED_IDENTITY
                ),
                tags=common,
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[after_roles(f"{name}-blob-reader-wait", [self.blob_reader], self)],
            ),
        )

        self.resource_group_name: pulumi.Output[str] = rg
        self.workspace_name: pulumi.Output[str] = ws
        self.register_outputs(
            {
                "resource_group_name": rg,
                "workspace_name": ws,
                "registry_login_server": self.registry.login_server,
            }
        )

    def _grant_shared_key_read(
        self, name: str, principal_id: str, opts: pulumi.ResourceOptions
    ) -> None:
        """The preview identity may read the logs' shared key, and nothing more, on this stack.

        Only the ACI target needs it (the AKS target never reads the key). Declared here, the
        role and its assignment come back with the resource group whenever it is re-created.
        """
        group = self.resource_group.id
        guid = group.apply(lambda i: str(uuid.uuid5(ROLE_NAMESPACE, i)))
        role = authorization.RoleDefinition(
            f"{name}-log-shared-key-reader",
            scope=group,
            role_definition_id=guid,
            # Custom role names are unique in the tenant: the group's name keeps them apart.
            role_name=pulumi.Output.concat(
                "Log shared key reader (", self.resource_group.name, ")"
            ),
            description="Reads the Log Analytics shared key, as a preview of the ACI target does.",
            role_type="CustomRole",
            permissions=[authorization.PermissionArgs(actions=[SHARED_KEY_READ])],
            assignable_scopes=[group],
            opts=opts,
        )
        authorization.RoleAssignment(
            f"{name}-preview-logs",
            scope=self.logs.id,
            principal_id=principal_id,
            principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
            role_definition_id=pulumi.Output.concat(
                "/subscriptions/",
                self.subscription_id,
                "/providers/Microsoft.Authorization/roleDefinitions/",
                guid,
            ),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[role])),
        )

    def datastore_uri(self, path: str) -> pulumi.Output[str]:
        """The `azureml://` address of a path in the assets container."""
        return pulumi.Output.concat(
            "azureml://subscriptions/", self.subscription_id,
            "/resourcegroups/", self.resource_group_name,
            "/workspaces/", self.workspace_name,
            "/datastores/", DATASTORE, "/paths/", path,
        )  # fmt: skip
