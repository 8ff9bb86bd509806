"""prod's online service: an AzureML endpoint on a compute, one deployment per release, traffic.

It takes a compute id and nothing else of the cluster, so another compute kind could serve it.
Each deployment is named after its release and declared from the release's asset versions alone,
so the stable deployment stays exactly as it was deployed while the repository moves on, and a
release's deployment is declared the same way whether it is the candidate or the stable one.
"""

import hashlib
import json
from collections.abc import Mapping

import pulumi
from pulumi_azure_native import authorization
from pulumi_azure_native import machinelearningservices as ml

from . import roles
from .assets import ENTRY_SCRIPT, Assets, read_model
from .capture import DEPLOYMENT_ENV, CollectedData, CollectedDataArgs, data_collector
from .config import StackConfig
from .key import service_key
from .propagation import after_roles
from .release import Release, asset_ids
from .server import server_env
from .tags import tags
from .traffic import EndpointTraffic
from .workspace import Workspace

# Created by the AzureML extension; the SDK's default (a VM size) only fits managed endpoints.
INSTANCE_TYPE = "defaultinstancetype"


def _duration(ms: int) -> str:
    """ISO 8601 duration, as AzureML request settings expect."""
    seconds = ms / 1000
    return f"PT{seconds:g}S"


def endpoint_revision(args: ml.OnlineEndpointArgs) -> pulumi.Output[str]:
    """A short hash of every value the endpoint is declared with, its SDK defaults and its key
    included. A hash of the key is not the key, so the revision itself is not secret."""
    digest = pulumi.Output.from_input(args).apply(
        lambda plain: hashlib.sha256(
            json.dumps(plain, sort_keys=True, default=vars).encode()
        ).hexdigest()[:16]
    )
    return pulumi.Output.unsecret(digest)


def deployment_args(
    cfg: StackConfig,
    release: Release,
    model_name: str,
    workspace: Workspace,
    endpoint_name: pulumi.Input[str],
    data_collector: ml.DataCollectorArgs | None = None,
) -> ml.OnlineDeploymentArgs:
    """Everything one release's deployment is declared with. Its assets come from the release's
    versions only (`release.asset_ids`), never from what the repository holds today."""
    ids = asset_ids(
        release,
        model_name,
        workspace.subscription_id,
        workspace.resource_group_name,
        workspace.workspace_name,
    )
    probe = ml.ProbeSettingsArgs(
        initial_delay="PT10S", period="PT10S", timeout="PT5S", failure_threshold=6
    )
    scale: ml.DefaultScaleSettingsArgs | ml.TargetUtilizationScaleSettingsArgs
    if cfg.replicas_max > cfg.replicas_min:
        scale = ml.TargetUtilizationScaleSettingsArgs(
            scale_type="TargetUtilization",
            min_instances=cfg.replicas_min,
            max_instances=cfg.replicas_max,
            target_utilization_percentage=70,
            polling_interval="PT10S",
        )
    else:
        scale = ml.DefaultScaleSettingsArgs(scale_type="Default")
    return ml.OnlineDeploymentArgs(
        deployment_name=release.deployment_name,
        endpoint_name=endpoint_name,
        resource_group_name=workspace.resource_group_name,
        workspace_name=workspace.workspace_name,
        location=cfg.location,
        sku=ml.SkuArgs(name="Default", capacity=cfg.replicas_min),
        properties=ml.KubernetesOnlineDeploymentArgs(
            endpoint_compute_type="Kubernetes",
            instance_type=INSTANCE_TYPE,
            model=ids.model,
            environment_id=ids.environment,
            code_configuration=ml.CodeConfigurationArgs(
                code_id=ids.code, scoring_script=ENTRY_SCRIPT
            ),
            # The endpoint checks the key before a request reaches the container.
            environment_variables=server_env(cfg, require_key=False)
            | {DEPLOYMENT_ENV: release.deployment_name},
            request_settings=ml.OnlineRequestSettingsArgs(
                max_concurrent_requests_per_instance=cfg.max_concurrent_requests,
                request_timeout=_duration(cfg.request_timeout_ms),
            ),
            liveness_probe=probe,
            readiness_probe=probe,
            scale_settings=scale,
            app_insights_enabled=cfg.app_insights,
            data_collector=data_collector,
        ),
        tags=tags(cfg),
    )


class OnlineService(pulumi.ComponentResource):
    key: pulumi.Output[str]
    scoring_uri: pulumi.Output[str]
    swagger_uri: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        workspace: Workspace,
        assets: Assets,
        compute_id: pulumi.Input[str],
        split: Mapping[Release, int],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`split`: the percent of traffic each release gets, as `release.traffic_split` says."""
        super().__init__("churn:ml:OnlineService", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        common = tags(cfg)

        if cfg.stable_release is None:
            pulumi.log.warn(
                "stableRelease is unset, so the repository's release replaces the serving "
                "deployment in place; after the first `up`, pin it to the `release` output "
                "(docs/rollout.md)",
                self,
            )
        self.key = service_key(name, self)
        # Declared once: the endpoint and the revision of its traffic both come from these args.
        endpoint_args = ml.OnlineEndpointArgs(
            resource_group_name=workspace.resource_group_name,
            workspace_name=workspace.workspace_name,
            location=cfg.location,
            identity=ml.ManagedServiceIdentityArgs(
                type=ml.ManagedServiceIdentityType.SYSTEM_ASSIGNED
            ),
            properties=ml.OnlineEndpointPropertiesArgs(
                auth_mode=ml.EndpointAuthMode.KEY,
                compute=compute_id,
                keys=ml.EndpointAuthKeysArgs(primary_key=self.key),
                description="Bank churn scoring",
            ),
            tags=common,
        )
        self.endpoint = ml.OnlineEndpoint(
            f"{name}-endpoint",
            endpoint_args,
            # Traffic is set by EndpointTraffic below, once the deployments exist.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["properties.traffic"]),
        )

        # On Kubernetes the model and code are downloaded, and the image pulled, under the
        # endpoint's system-assigned identity. AzureML grants that identity AcrPull on the
        # workspace's registry (this one) and Storage Blob Data Reader on the workspace's default
        # datastore only ("Automatic role assignment for endpoint identity",
        # concept-endpoints-online-auth). The assets live in a container of their own, so the
        # identity is granted reading that container; repeating AzureML's own assignments would
        # fail (ARM refuses a second identical assignment). The wait covers both.
        principal = self.endpoint.identity.apply(lambda i: (i.principal_id or "") if i else "")
        reader = authorization.RoleAssignment(
            f"{name}-endpoint-blob-reader",
            scope=workspace.container.id,
            principal_id=principal,
            principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
            role_definition_id=roles.role_definition_id(
                workspace.subscription_id, roles.STORAGE_BLOB_DATA_READER
            ),
            opts=child,
        )
        granted = after_roles(f"{name}-endpoint-grants-propagation", [reader], self)

        # What the deployments score goes to AzureML's data collection (infra/capture.py).
        collected = CollectedData(
            f"{name}-collected",
            cfg,
            CollectedDataArgs(
                resource_group_name=workspace.resource_group_name,
                account_name=workspace.storage_account.name,
                workspace_name=workspace.workspace_name,
                workspace_id=workspace.workspace.workspace_id,
                endpoint_name=self.endpoint.name,
            ),
            opts=child,
        )
        collector = data_collector(cfg, collected.data_ids)
        self.captures_location = collected.location

        model_name = read_model().name
        self.deployments: dict[Release, ml.OnlineDeployment] = {}
        for release in split:
            # Every deployment waits for the repository's assets: the candidate runs them, and an
            # older release's versions are registered already (they are retained on delete).
            self.deployments[release] = ml.OnlineDeployment(
                f"{name}-{release.deployment_name}",
                deployment_args(cfg, release, model_name, workspace, self.endpoint.name, collector),
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[granted, assets.model, assets.code, assets.environment]
                ),
            )

        # Any change to the endpoint's own settings re-applies the traffic after it (an endpoint
        # update is a PUT of what the program declares, which carries no traffic). The traffic
        # is updated after every new deployment exists and before a dropped one is deleted.
        self.traffic = EndpointTraffic(
            f"{name}-traffic",
            endpoint_id=self.endpoint.id,
            traffic={r.deployment_name: share for r, share in split.items()},
            revision=endpoint_revision(endpoint_args),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(self.deployments.values())),
        )

        props = self.endpoint.properties
        self.scoring_uri = props.apply(lambda p: p.scoring_uri or "")
        self.swagger_uri = props.apply(lambda p: p.swagger_uri or "")
        self.register_outputs({"scoring_uri": self.scoring_uri, "swagger_uri": self.swagger_uri})
