"""prod: an AKS cluster attached to the workspace, serving through an AzureML online endpoint."""

import hashlib
import json

import pulumi
from pulumi_azure_native import authorization
from pulumi_azure_native import containerservice as aks
from pulumi_azure_native import kubernetesconfiguration as k8sconfig
from pulumi_azure_native import machinelearningservices as ml

from . import roles
from .assets import ENTRY_SCRIPT, Assets
from .config import StackConfig
from .key import service_key
from .server import server_env
from .tags import tags
from .traffic import EndpointTraffic
from .workspace import Workspace

EXTENSION_TYPE = "Microsoft.AzureML.Kubernetes"
COMPUTE_NAME = "aks-inference"
# Created by the AzureML extension; the SDK's default (a VM size) only fits managed endpoints.
INSTANCE_TYPE = "defaultinstancetype"
DEPLOYMENT = "blue"


def _duration(ms: int) -> str:
    """ISO 8601 duration, as AzureML request settings expect."""
    seconds = ms / 1000
    return f"PT{seconds:g}S"


def extension_settings(cfg: StackConfig) -> dict[str, str]:
    """The AzureML extension with inference only; its router is highly available only when the
    pool can spread three replicas."""
    return {
        "enableTraining": "False",
        "enableInference": "True",
        "inferenceRouterServiceType": "loadBalancer",
        # No TLS certificate is configured: the router answers on HTTP, still behind the key.
        "allowInsecureConnections": "True",
        "inferenceRouterHA": "True" if cfg.aks_node_min >= 3 else "False",
    }


def endpoint_revision(args: ml.OnlineEndpointArgs) -> pulumi.Output[str]:
    """A short hash of every value the endpoint is declared with, its SDK defaults and its key
    included. A hash of the key is not the key, so the revision itself is not secret."""
    digest = pulumi.Output.from_input(args).apply(
        lambda plain: hashlib.sha256(
            json.dumps(plain, sort_keys=True, default=vars).encode()
        ).hexdigest()[:16]
    )
    return pulumi.Output.unsecret(digest)


class AksTarget(pulumi.ComponentResource):
    key: pulumi.Output[str]
    scoring_uri: pulumi.Output[str]
    swagger_uri: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        workspace: Workspace,
        assets: Assets,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("churn:ml:AksTarget", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        common = tags(cfg)
        rg = workspace.resource_group_name
        ws = workspace.workspace_name

        self.key = service_key(name, self)
        key = self.key
        self.cluster = aks.ManagedCluster(
            f"{name}-aks",
            resource_group_name=rg,
            location=cfg.location,
            dns_prefix=f"{cfg.name_prefix}-{cfg.stack}",
            identity=aks.ManagedClusterIdentityArgs(type=aks.ResourceIdentityType.SYSTEM_ASSIGNED),
            enable_rbac=True,
            agent_pool_profiles=[
                aks.ManagedClusterAgentPoolProfileArgs(
                    name="system",
                    mode=aks.AgentPoolMode.SYSTEM,
                    type=aks.AgentPoolType.VIRTUAL_MACHINE_SCALE_SETS,
                    os_type=aks.OSType.LINUX,
                    vm_size=cfg.aks_node_size,
                    enable_auto_scaling=True,
                    count=cfg.aks_node_min,
                    min_count=cfg.aks_node_min,
                    max_count=cfg.aks_node_max,
                )
            ],
            tags=common,
            # The autoscaler owns the node count once the cluster exists: AKS refuses an update
            # that sends a count different from the current one while autoscaling is on.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["agentPoolProfiles[0].count"]),
        )
        kubelet = self.cluster.identity_profile.apply(
            lambda p: p["kubeletidentity"].object_id or "" if p else ""
        )
        pull = authorization.RoleAssignment(
            f"{name}-acr-pull",
            scope=workspace.registry.id,
            principal_id=kubelet,
            principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
            role_definition_id=roles.role_definition_id(workspace.subscription_id, roles.ACR_PULL),
            opts=child,
        )

        self.extension = k8sconfig.Extension(
            f"{name}-azureml-extension",
            resource_group_name=rg,
            cluster_rp="Microsoft.ContainerService",
            cluster_resource_name="managedClusters",
            cluster_name=self.cluster.name,
            extension_type=EXTENSION_TYPE,
            release_train="stable",
            auto_upgrade_minor_version=True,
            scope=k8sconfig.ScopeArgs(
                cluster=k8sconfig.ScopeClusterArgs(release_namespace="azureml")
            ),
            configuration_settings=extension_settings(cfg),
            opts=child,
        )

        self.compute = ml.Compute(
            f"{name}-compute",
            compute_name=COMPUTE_NAME,
            resource_group_name=rg,
            workspace_name=ws,
            location=cfg.location,
            properties=ml.KubernetesArgs(
                compute_type="Kubernetes",
                resource_id=self.cluster.id,
                description="AKS cluster with the AzureML extension, for online inference",
                properties=ml.KubernetesPropertiesArgs(namespace="default"),
            ),
            tags=common,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.extension]),
        )

        # Declared once: the endpoint and the revision of its traffic both come from these args.
        endpoint_args = ml.OnlineEndpointArgs(
            resource_group_name=rg,
            workspace_name=ws,
            location=cfg.location,
            identity=ml.ManagedServiceIdentityArgs(
                type=ml.ManagedServiceIdentityType.SYSTEM_ASSIGNED
            ),
            properties=ml.OnlineEndpointPropertiesArgs(
                auth_mode=ml.EndpointAuthMode.KEY,
                compute=self.compute.id,
                keys=ml.EndpointAuthKeysArgs(primary_key=key),
                description="Bank churn scoring",
            ),
            tags=common,
        )
        self.endpoint = ml.OnlineEndpoint(
            f"{name}-endpoint",
            endpoint_args,
            # Traffic is set by EndpointTraffic below, once the deployment exists.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["properties.traffic"]),
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
        self.deployment = ml.OnlineDeployment(
            f"{name}-deployment",
            deployment_name=DEPLOYMENT,
            endpoint_name=self.endpoint.name,
            resource_group_name=rg,
            workspace_name=ws,
            location=cfg.location,
            sku=ml.SkuArgs(name="Default", capacity=cfg.replicas_min),
            properties=ml.KubernetesOnlineDeploymentArgs(
                endpoint_compute_type="Kubernetes",
                instance_type=INSTANCE_TYPE,
                model=assets.model_id,
                environment_id=assets.environment_id,
                code_configuration=ml.CodeConfigurationArgs(
                    code_id=assets.code_id, scoring_script=ENTRY_SCRIPT
                ),
                # The endpoint checks the key before a request reaches the container.
                environment_variables=server_env(cfg, require_key=False),
                request_settings=ml.OnlineRequestSettingsArgs(
                    max_concurrent_requests_per_instance=cfg.max_concurrent_requests,
                    request_timeout=_duration(cfg.request_timeout_ms),
                ),
                liveness_probe=probe,
                readiness_probe=probe,
                scale_settings=scale,
                app_insights_enabled=cfg.app_insights,
            ),
            tags=common,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[pull]),
        )

        # Any change to the endpoint's own settings re-applies the traffic after it (an endpoint
        # update is a PUT of what the program declares, which carries no traffic).
        revision = endpoint_revision(endpoint_args)
        self.traffic = EndpointTraffic(
            f"{name}-traffic",
            endpoint_id=self.endpoint.id,
            traffic={DEPLOYMENT: 100},
            revision=revision,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.deployment]),
        )

        props = self.endpoint.properties
        self.scoring_uri = props.apply(lambda p: p.scoring_uri or "")
        self.swagger_uri = props.apply(lambda p: p.swagger_uri or "")
        self.register_outputs({"scoring_uri": self.scoring_uri, "swagger_uri": self.swagger_uri})
