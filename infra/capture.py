"""Where the captured rows land in Azure, per target.

dev (ACI): `capture_share(...)`, an Azure Files share of the workspace's storage account, mounted into
the container group; the entry script writes hourly JSON Lines files there (scoring/capture.py).
Azure Storage lifecycle rules act on blobs only, so on the share the writer itself deletes the
hour folders older than captureRetentionDays (CHURN_CAPTURE_RETENTION_DAYS).

prod (AKS): AzureML's data collection. `CollectedData` registers one data asset per collection,
pointing where the collector writes (the CLI does the same before it sends a deployment's
`data_collector`), and a lifecycle rule that deletes collected blobs after captureRetentionDays;
`data_collector(...)` is the deployment's setting that refers to those assets.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import containerinstance as aci
from pulumi_azure_native import machinelearningservices as ml
from pulumi_azure_native import storage

from . import outputs
from .config import StackConfig
from .tags import tags

# The collection names the entry script's Collector objects use (scoring/capture.py); AzureML
# model monitoring reads model inputs and outputs from collections of these names.
INPUTS = "model_inputs"
OUTPUTS = "model_outputs"
COLLECTIONS = (INPUTS, OUTPUTS)
# AzureML's default blob datastore, the collector's default destination. Its container is
# azureml-blobstore-<workspace id> in the workspace's storage account. (CLI v2 reference for
# Kubernetes online deployments, DataCollector: data.path defaults to
# azureml://datastores/workspaceblobstore/paths/modelDataCollector/<endpoint>/<deployment>/<name>)
COLLECTOR_DATASTORE = "workspaceblobstore"
COLLECTOR_FOLDER = "modelDataCollector"
# The stack output that tells `make drift --stack` where the captures are (tools/captures.py).
CAPTURES_OUTPUT = outputs.CAPTURES
# Inside the scoring container (the image's app root is /var/azureml-app).
MOUNT_PATH = "/var/azureml-app/captures"
# The variable naming the deployment in every captured row (scoring/capture.py DEPLOYMENT_ENV).
DEPLOYMENT_ENV = "CHURN_DEPLOYMENT"
SHARE_QUOTA_GB = 5  # a year of hourly files at a few thousand rows an hour fits with room


def capture_env(cfg: StackConfig, deployment: str) -> dict[str, str]:
    """The entry script's capture settings for a container that has the share at MOUNT_PATH."""
    return {
        "CHURN_CAPTURE_DIR": MOUNT_PATH,
        "CHURN_CAPTURE_SAMPLING": f"{cfg.capture_sampling_rate:g}",
        "CHURN_CAPTURE_RETENTION_DAYS": str(cfg.capture_retention_days),
        DEPLOYMENT_ENV: deployment,
    }


@dataclass(frozen=True)
class CaptureShare:
    """dev: what the container group needs to write captures to its file share."""

    share: storage.FileShare
    volume: aci.VolumeArgs
    mount: aci.VolumeMountArgs
    env: dict[str, str]
    location: pulumi.Output[dict]  # the CAPTURES_OUTPUT value


def capture_share(
    name: str,
    cfg: StackConfig,
    resource_group_name: pulumi.Input[str],
    account_name: pulumi.Input[str],
    parent: pulumi.Resource,
) -> CaptureShare:
    """The share in the workspace's storage account, declared under the target (`parent`)."""
    share = storage.FileShare(
        f"{name}-share",
        resource_group_name=resource_group_name,
        account_name=account_name,
        share_quota=SHARE_QUOTA_GB,
        enabled_protocols=storage.EnabledProtocols.SMB,  # what ACI mounts
        opts=pulumi.ResourceOptions(parent=parent, protect=cfg.protect),
    )
    # ACI mounts Azure Files with the account key only; it stays a secret end to end.
    keys = storage.list_storage_account_keys_output(
        resource_group_name=resource_group_name,
        account_name=account_name,
        opts=pulumi.InvokeOutputOptions(parent=parent),
    )
    volume = aci.VolumeArgs(
        name="captures",
        azure_file=aci.AzureFileVolumeArgs(
            share_name=share.name,
            storage_account_name=account_name,
            storage_account_key=pulumi.Output.secret(keys.keys[0].value),
        ),
    )
    mount = aci.VolumeMountArgs(name="captures", mount_path=MOUNT_PATH)
    location = pulumi.Output.all(account=account_name, share=share.name)
    return CaptureShare(share, volume, mount, capture_env(cfg, f"{cfg.stack}-aci"), location)


@dataclass(frozen=True)
class CollectedDataArgs:
    resource_group_name: pulumi.Input[str]
    account_name: pulumi.Input[str]  # the workspace's storage account
    workspace_name: pulumi.Input[str]
    workspace_id: pulumi.Input[str]  # the workspace's GUID, which names its default container
    endpoint_name: pulumi.Input[str]  # the endpoint's autoname is only known as an Output


class CollectedData(pulumi.ComponentResource):
    """prod: a data asset per collection, and the lifecycle rule on the collected blobs. One for
    the endpoint: every deployment behind it (one per release) collects into the same assets, and
    each row names its deployment."""

    data_ids: dict[str, pulumi.Output[str]]
    location: pulumi.Output[dict]  # the CAPTURES_OUTPUT value

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        args: CollectedDataArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("churn:ml:CollectedData", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        folder = pulumi.Output.concat(COLLECTOR_FOLDER, "/", args.endpoint_name)
        self.data_ids = {}
        for collection in COLLECTIONS:
            asset = pulumi.Output.concat(args.endpoint_name, f"-{collection}")
            container = ml.DataContainer(
                f"{name}-{collection}",
                name=asset,
                resource_group_name=args.resource_group_name,
                workspace_name=args.workspace_name,
                properties=ml.DataContainerPropertiesArgs(
                    data_type=ml.DataType.URI_FOLDER,
                    description=f"What the endpoint's deployments scored ({collection})",
                    tags=tags(cfg),
                ),
                opts=child,
            )
            version = ml.DataVersion(
                f"{name}-{collection}-1",
                name=container.name,
                version="1",
                resource_group_name=args.resource_group_name,
                workspace_name=args.workspace_name,
                properties=ml.UriFolderDataVersionArgs(
                    data_type="uri_folder",
                    tags=tags(cfg),
                    data_uri=pulumi.Output.concat(
                        f"azureml://datastores/{COLLECTOR_DATASTORE}/paths/",
                        folder,
                        f"/{collection}",
                    ),
                ),
                opts=child,
            )
            self.data_ids[collection] = version.id
        blob_container = pulumi.Output.concat("azureml-blobstore-", args.workspace_id)
        self.location = pulumi.Output.all(
            account=args.account_name,
            container=blob_container,
            prefix=folder.apply(lambda f: f + "/"),
        )
        prefix = pulumi.Output.concat(blob_container, "/", folder, "/")
        # One policy per account, named "default" by Azure; this is the account's only one.
        self.retention = storage.ManagementPolicy(
            f"{name}-retention",
            management_policy_name="default",
            resource_group_name=args.resource_group_name,
            account_name=args.account_name,
            policy=storage.ManagementPolicySchemaArgs(
                rules=[
                    storage.ManagementPolicyRuleArgs(
                        name="delete-collected-data",
                        type=storage.RuleType.LIFECYCLE,
                        enabled=True,
                        definition=storage.ManagementPolicyDefinitionArgs(
                            filters=storage.ManagementPolicyFilterArgs(
                                blob_types=["blockBlob", "appendBlob"], prefix_match=[prefix]
                            ),
                            actions=storage.ManagementPolicyActionArgs(
                                base_blob=storage.ManagementPolicyBaseBlobArgs(
                                    delete=storage.DateAfterModificationArgs(
                                        days_after_modification_greater_than=cfg.capture_retention_days
                                    )
                                )
                            ),
                        ),
                    )
                ]
            ),
            opts=child,
        )
        self.register_outputs({f"{c}_data_id": i for c, i in self.data_ids.items()})


def data_collector(
    cfg: StackConfig, data_ids: Mapping[str, pulumi.Input[str]]
) -> ml.DataCollectorArgs:
    """The deployment's `data_collector`: both collections on, sampled, rolled every hour."""
    return ml.DataCollectorArgs(
        collections={
            collection: ml.CollectionArgs(
                data_collection_mode=ml.DataCollectionMode.ENABLED,
                data_id=data_ids[collection],
                sampling_rate=cfg.capture_sampling_rate,
            )
            for collection in COLLECTIONS
        },
        rolling_rate=ml.RollingRateType.HOUR,
    )
