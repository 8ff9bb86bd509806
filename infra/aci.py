"""dev: the scoring image on Azure Container Instances, behind the service's own key check and
a Caddy sidecar that buffers requests and serves HTTPS (infra/tls.py)."""

import pulumi
import pulumi_random as random
from pulumi_azure_native import (
    authorization,
    managedidentity,
    operationalinsights,
)
from pulumi_azure_native import containerinstance as aci

from . import roles, tls
from .capture import capture_share
from .config import StackConfig
from .image import REPOSITORY, scoring_image
from .key import service_key
from .propagation import after_roles
from .server import flag, server_env
from .tags import tags
from .workspace import Workspace

PORT = 5001
SCORING = "scoring"

# Azure's "Update containers in Azure Container Instances": changing the OS type, CPU, memory, GPU,
# restart policy or network profile "require[s] container group deletion prior to redeployment"; an
# in-place PUT of them is refused. Pulumi replaces the group when one of these changes, deleting
# the old one first: the new group takes over the same DNS label, which the old one would still
# hold during a create-before-delete replace. (The endpoint is down between the two.)
REPLACE_ON_CHANGES = [
    "osType",
    "restartPolicy",
    "containers[*].resources",
    "subnetIds",
]


class AciTarget(pulumi.ComponentResource):
    key: pulumi.Output[str]
    scoring_uri: pulumi.Output[str]
    swagger_uri: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        workspace: Workspace,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("churn:ml:AciTarget", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        common = tags(cfg)
        rg = workspace.resource_group_name
        registry = workspace.registry

        # With `auth: none` there is no key to generate; the output stays a (blank) secret.
        self.key = service_key(name, self) if cfg.require_key else pulumi.Output.secret("")
        image = scoring_image(f"{name}-image", registry.login_server, self)

        identity = managedidentity.UserAssignedIdentity(
            f"{name}-pull-identity",
            resource_group_name=rg,
            location=cfg.location,
            tags=common,
            opts=child,
        )
        pull = authorization.RoleAssignment(
            f"{name}-acr-pull",
            scope=registry.id,
            principal_id=identity.principal_id,
            principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
            role_definition_id=roles.role_definition_id(workspace.subscription_id, roles.ACR_PULL),
            opts=child,
        )
        dns = random.RandomString(
            f"{name}-dns-suffix", length=8, special=False, upper=False, opts=child
        )
        label = pulumi.Output.concat(cfg.name_prefix, "-", cfg.stack, "-", dns.result)
        proxy, proxy_volumes = tls.aci_sidecar(name, cfg, workspace, label, PORT, self)

        # What the service scores goes to a file share mounted into the group (infra/capture.py).
        captures = capture_share(f"{name}-captures", cfg, rg, workspace.storage_account.name, self)
        self.captures_location = captures.location  # for the stack output CAPTURES_OUTPUT
        log_keys = operationalinsights.get_shared_keys_output(
            resource_group_name=rg,
            workspace_name=workspace.logs.name,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )

        self.container_group = aci.ContainerGroup(
            f"{name}-aci",
            resource_group_name=rg,
            location=cfg.location,
            os_type=aci.OperatingSystemTypes.LINUX,
            sku=aci.ContainerGroupSku.STANDARD,
            restart_policy=aci.ContainerGroupRestartPolicy.ALWAYS,
            identity=aci.ContainerGroupIdentityArgs(
                type=aci.ResourceIdentityType.USER_ASSIGNED,
                user_assigned_identities=[identity.id],
            ),
            image_registry_credentials=[
                aci.ImageRegistryCredentialArgs(server=registry.login_server, identity=identity.id)
            ],
            ip_address=aci.IpAddressArgs(
                type=aci.ContainerGroupIpAddressType.PUBLIC,
                # The FQDN carries a hash of the tenant: a freed label cannot be taken over.
                auto_generated_domain_name_label_scope=aci.DnsNameLabelReusePolicy.TENANT_REUSE,
                # Only the proxy's ports: the scoring port answers on localhost alone.
                ports=[
                    aci.PortArgs(port=port, protocol=aci.ContainerGroupNetworkProtocol.TCP)
                    for port in tls.PUBLIC_PORTS
                ],
                dns_name_label=label,
            ),
            volumes=[*proxy_volumes, captures.volume],
            containers=[
                scoring_container(
                    cfg,
                    pulumi.Output.concat(registry.login_server, f"/{REPOSITORY}@", image.digest),
                    scoring_env(cfg, self.key, workspace.insights.instrumentation_key)
                    + [
                        aci.EnvironmentVariableArgs(name=k, value=v)
                        for k, v in captures.env.items()
                    ],
                    [captures.mount],
                ),
                proxy,
            ],
            diagnostics=aci.ContainerGroupDiagnosticsArgs(
                log_analytics=aci.LogAnalyticsArgs(
                    workspace_id=workspace.logs.customer_id,
                    workspace_key=pulumi.Output.secret(log_keys.primary_shared_key).apply(
                        lambda k: k or ""
                    ),
                )
            ),
            tags=common,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[after_roles(f"{name}-acr-pull-wait", [pull], self)],
                replace_on_changes=REPLACE_ON_CHANGES,
                delete_before_replace=True,
            ),
        )

        fqdn = self.container_group.ip_address.apply(lambda ip: (ip.fqdn or "") if ip else "")
        self.scoring_uri = pulumi.Output.concat("https://", fqdn, "/score")
        self.swagger_uri = pulumi.Output.concat("https://", fqdn, "/swagger.json")
        self.register_outputs({"scoring_uri": self.scoring_uri, "swagger_uri": self.swagger_uri})


def scoring_env(
    cfg: StackConfig, key: pulumi.Input[str], insights_key: pulumi.Input[str]
) -> list[aci.EnvironmentVariableArgs]:
    """The inference server's settings; the key and the telemetry key only as secure values."""
    # ACI has no router: the server itself stops a request after requestTimeoutMs (on AKS the
    # endpoint's request settings do), and the App Insights switch is ours to set (on AKS,
    # AzureML sets it from the deployment's appInsightsEnabled).
    settings = server_env(cfg, cfg.require_key) | {
        "SCORING_TIMEOUT_MS": str(cfg.request_timeout_ms),
        "AML_APP_INSIGHTS_ENABLED": flag(cfg.app_insights),
    }
    env = [aci.EnvironmentVariableArgs(name=k, value=v) for k, v in settings.items()]
    if cfg.require_key:
        env.append(aci.EnvironmentVariableArgs(name="CHURN_SCORING_KEY", secure_value=key))
    if cfg.app_insights:
        env.append(
            aci.EnvironmentVariableArgs(
                name="AML_APP_INSIGHTS_KEY", secure_value=pulumi.Output.secret(insights_key)
            )
        )
    return env


def scoring_container(
    cfg: StackConfig,
    image: pulumi.Input[str],
    env: list[aci.EnvironmentVariableArgs],
    mounts: list[aci.VolumeMountArgs],
) -> aci.ContainerArgs:
    """The scoring container, one of the group's containers; `image` is pinned by digest, so a
    rebuilt image redeploys and a retagged one cannot sneak in."""
    probe = aci.ContainerProbeArgs(
        http_get=aci.ContainerHttpGetArgs(path="/", port=PORT, scheme=aci.Scheme.HTTP),
        initial_delay_seconds=10,
        period_seconds=10,
        timeout_seconds=5,
        failure_threshold=6,
    )
    return aci.ContainerArgs(
        name=SCORING,
        image=image,
        ports=[aci.ContainerPortArgs(port=PORT)],
        resources=aci.ResourceRequirementsArgs(
            requests=aci.ResourceRequestsArgs(cpu=cfg.aci_cpu, memory_in_gb=cfg.aci_memory_gb)
        ),
        environment_variables=env,
        volume_mounts=mounts,
        liveness_probe=probe,
        readiness_probe=probe,
    )
