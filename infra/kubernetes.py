"""prod's compute: an AKS cluster with the AzureML extension, attached to the workspace.

This is AzureML's compute side only; the online service (endpoint, deployments, traffic) takes the
compute id this component exports and knows nothing else about the cluster.
"""

import hashlib
import re
from collections.abc import Mapping

import pulumi
from pulumi_azure_native import authorization
from pulumi_azure_native import containerservice as aks
from pulumi_azure_native import kubernetesconfiguration as k8sconfig
from pulumi_azure_native import machinelearningservices as ml

from . import roles, tls
from .config import StackConfig
from .detach import ComputeDetach
from .propagation import after_roles
from .tags import tags
from .workspace import Workspace

EXTENSION_TYPE = "Microsoft.AzureML.Kubernetes"
COMPUTE_NAME = "aks-inference"
# The system pool only runs AKS's own pods; its size is fixed so it never needs replacing.
SYSTEM_POOL_SIZE = "Standard_D2s_v5"
SYSTEM_POOL_NODES = 1


def extension_settings(
    cfg: StackConfig,
    cluster_id: pulumi.Input[str],
    cluster_name: pulumi.Input[str],
    router: Mapping[str, pulumi.Input[str]],
) -> dict[str, pulumi.Input[str]]:
    """What `az k8s-extension create --extension-type Microsoft.AzureML.Kubernetes` sends for a
    managed (AKS) cluster with inference only: azure-cli-extensions, src/k8s-extension/
    azext_k8s_extension/partner_extensions/AzureMLKubernetes.py (`Create`, `__validate_config`,
    `__validate_scoring_fe_settings`, `_dereference`), and Microsoft's ARM template
    Azure/AML-Kubernetes files/deployextension.json (`baseSettings`, `inferenceBase`)."""
    nodes = SYSTEM_POOL_NODES + cfg.aks_node_min
    small = nodes < 3  # the CLI sums the pools' node counts; below three it is "small scale"
    return {
        # __validate_config: one of the two must be on; this cluster only serves.
        "enableTraining": "False",
        "enableInference": "True",
        # __validate_scoring_fe_settings: required with inference (LoadBalancer: a public IP).
        "inferenceRouterServiceType": "loadBalancer",
        # Create, small scale: DevTest and a single router below three nodes, else the
        # template's FastProd with the router's three replicas.
        "clusterPurpose": "DevTest" if small else "FastProd",
        "inferenceRouterHA": "False" if small else "True",
        # Create: the cluster's ARM id under `cluster_name`, copied by `_dereference` to
        # `clusterId` and to Prometheus' external label.
        "cluster_name": cluster_id,
        "clusterId": cluster_id,
        "prometheus.prometheusSpec.externalLabels.cluster_name": cluster_id,
        "cluster_name_friendly": cluster_name,
        # Create: the cluster's region, and the domain it derives from it.
        "domain": f"{cfg.location}.cloudapp.azure.com",
        "location": cfg.location,
        "jobSchedulerLocation": cfg.location,
        # Create: "do not enable service bus by default"; "do not enable relay for managed
        # cluster(AKS) by default"; nginx ingress on for managedClusters.
        "servicebus.enabled": "false",
        "relayserver.enabled": "false",
        "nginxIngress.enabled": "true",
        # The router's TLS and exposure (infra/tls.py).
        **router,
    }


def pool_name(vm_size: str) -> str:
    """An agent pool name (lowercase letters and digits, at most 12 for Linux) read from the VM
    size, so a new size is a new pool: `Standard_D4s_v5` -> `d4sv5`."""
    plain = re.sub(r"[^a-z0-9]", "", vm_size.lower().removeprefix("standard_"))
    if 0 < len(plain) <= 12 and plain[0].isalpha():
        return plain
    return "p" + hashlib.sha256(vm_size.encode()).hexdigest()[:11]


class KubernetesCompute(pulumi.ComponentResource):
    compute_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        workspace: Workspace,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("churn:ml:KubernetesCompute", name, None, opts)
        # Read first: a missing certificate stops the program before this component declares anything.
        router, router_secrets = tls.router_settings(cfg)
        child = pulumi.ResourceOptions(parent=self)
        common = tags(cfg)
        rg = workspace.resource_group_name

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
                    vm_size=SYSTEM_POOL_SIZE,
                    enable_auto_scaling=True,
                    count=SYSTEM_POOL_NODES,
                    min_count=SYSTEM_POOL_NODES,
                    max_count=SYSTEM_POOL_NODES + 1,
                )
            ],
            tags=common,
            # The profiles only seed the cluster: AKS lists the serving pool below among them
            # too, and the autoscaler owns the counts, so a later PUT must not send them. The
            # seeded system pool is never renamed or deleted, so the cluster's PUT never adds or
            # drops a pool, which AKS refuses outside the agent pool API (the failure in
            # pulumi/pulumi-azure-native#2719, where the seeded pool had been rotated away).
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["agentPoolProfiles"]),
        )
        # The serving nodes. AKS refuses to change a pool's VM size in place, so the pool is
        # named after its size: a new `aksNodeSize` creates a new pool, then deletes the old one
        # (both pools run, and are billed, while AKS drains the old nodes onto the new ones).
        self.pool = aks.AgentPool(
            f"{name}-pool",
            resource_group_name=rg,
            resource_name_=self.cluster.name,
            agent_pool_name=pool_name(cfg.aks_node_size),
            mode=aks.AgentPoolMode.USER,
            type=aks.AgentPoolType.VIRTUAL_MACHINE_SCALE_SETS,
            os_type=aks.OSType.LINUX,
            vm_size=cfg.aks_node_size,
            enable_auto_scaling=True,
            count=cfg.aks_node_min,
            min_count=cfg.aks_node_min,
            max_count=cfg.aks_node_max,
            tags=common,
            # The autoscaler owns the node count once the pool exists: AKS refuses an update
            # that sends a count different from the current one while autoscaling is on.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["count"]),
        )

        kubelet = self.cluster.identity_profile.apply(
            lambda p: p["kubeletidentity"].object_id or "" if p else ""
        )
        pull = authorization.RoleAssignment(
            f"{name}-kubelet-acr-pull",
            scope=workspace.registry.id,
            principal_id=kubelet,
            principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
            role_definition_id=roles.role_definition_id(workspace.subscription_id, roles.ACR_PULL),
            opts=child,
        )
        pull_ready = after_roles(f"{name}-kubelet-acr-pull-propagation", [pull], self)

        self.extension = k8sconfig.Extension(
            f"{name}-azureml-extension",
            resource_group_name=rg,
            cluster_rp="Microsoft.ContainerService",
            cluster_resource_name="managedClusters",
            cluster_name=self.cluster.name,
            extension_type=EXTENSION_TYPE,
            release_train="stable",
            auto_upgrade_minor_version=True,
            # The CLI and the template both give the extension its own identity.
            identity=k8sconfig.IdentityArgs(type=k8sconfig.ResourceIdentityType.SYSTEM_ASSIGNED),
            scope=k8sconfig.ScopeArgs(
                cluster=k8sconfig.ScopeClusterArgs(release_namespace="azureml")
            ),
            configuration_settings=extension_settings(
                cfg, self.cluster.id, self.cluster.name, router
            ),
            # The certificate and key: protected settings, which ARM never returns.
            configuration_protected_settings=router_secrets,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.pool]),
        )

        self.compute = ml.Compute(
            f"{name}-compute",
            compute_name=COMPUTE_NAME,
            resource_group_name=rg,
            workspace_name=workspace.workspace_name,
            location=cfg.location,
            properties=ml.KubernetesArgs(
                compute_type="Kubernetes",
                resource_id=self.cluster.id,
                description="AKS cluster with the AzureML extension, for online inference",
                properties=ml.KubernetesPropertiesArgs(namespace="default"),
            ),
            tags=common,
            # Removed by the detach below: the provider's own DELETE lacks the required
            # underlyingResourceAction (see infra/detach.py).
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.extension], retain_on_delete=True
            ),
        )
        self.detach = ComputeDetach(
            f"{name}-compute-detach",
            compute_id=self.compute.id,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[pull_ready]),
        )
        # Whatever runs on the compute waits for the image pull to be authorized, and is
        # deleted before the detach.
        self.compute_id = self.detach.compute_id
        self.register_outputs({"compute_id": self.compute_id})
