"""dev: the scoring image on Azure Container Instances, behind the service's own key check."""

import pulumi
import pulumi_random as random
from pulumi_azure_native import (
    authorization,
    managedidentity,
    operationalinsights,
)
from pulumi_azure_native import containerinstance as aci

from . import roles
from .capture import capture_share
from .config import StackConfig
from .image import REPOSITORY, scoring_image
from .key import service_key
from .server import flag, server_env
from .tags import tags
from .workspace import Workspace

PORT = 5001


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

        # ACI has no router: the server itself stops a request after requestTimeoutMs (on AKS the
        # endpoint's request settings do), and the App Insights switch is ours to set (on AKS,
        # AzureML sets it from the deployment's appInsightsEnabled).
        settings = server_env(cfg, cfg.require_key) | {
            "SCORING_TIMEOUT_MS": str(cfg.request_timeout_ms),
            "AML_APP_INSIGHTS_ENABLED": flag(cfg.app_insights),
        }
        # What the service scores goes to a file share mounted into the group (infra/capture.py).
        captures = capture_share(f"{name}-captures", cfg, rg, workspace.storage_account.name, self)
        settings |= captures.env
        self.captures_location = captures.location  # for the stack output CAPTURES_OUTPUT
        env = [aci.EnvironmentVariableArgs(name=k, value=v) for k, v in settings.items()]
        if cfg.require_key:
            env.append(aci.EnvironmentVariableArgs(name="CHURN_SCORING_KEY", secure_value=self.key))
        if cfg.app_insights:
            env.append(
                aci.EnvironmentVariableArgs(
                    name="AML_APP_INSIGHTS_KEY",
                    secure_value=pulumi.Output.secret(workspace.insights.instrumentation_key),
                )
            )
        probe = aci.ContainerProbeArgs(
            http_get=aci.ContainerHttpGetArgs(path="/", port=PORT, scheme=aci.Scheme.HTTP),
            initial_delay_seconds=10,
            period_seconds=10,
            timeout_seconds=5,
            failure_threshold=6,
        )
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
                ports=[aci.PortArgs(port=PORT, protocol=aci.ContainerGroupNetworkProtocol.TCP)],
                dns_name_label=pulumi.Output.concat(
                    cfg.name_prefix, "-", cfg.stack, "-", dns.result
                ),
            ),
            containers=[
                aci.ContainerArgs(
                    name="scoring",
                    # Pinned by digest: a rebuilt image redeploys, a retagged one cannot sneak in.
                    image=pulumi.Output.concat(
                        registry.login_server, f"/{REPOSITORY}@", image.digest
                    ),
                    ports=[aci.ContainerPortArgs(port=PORT)],
                    resources=aci.ResourceRequirementsArgs(
                        requests=aci.ResourceRequestsArgs(
                            cpu=cfg.aci_cpu, memory_in_gb=cfg.aci_memory_gb
                        )
                    ),
                    environment_variables=env,
                    volume_mounts=[captures.mount],
                    liveness_probe=probe,
                    readiness_probe=probe,
                )
            ],
            volumes=[captures.volume],
            diagnostics=aci.ContainerGroupDiagnosticsArgs(
                log_analytics=aci.LogAnalyticsArgs(
                    workspace_id=workspace.logs.customer_id,
                    workspace_key=pulumi.Output.secret(log_keys.primary_shared_key).apply(
                        lambda k: k or ""
                    ),
                )
            ),
            tags=common,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[pull]),
        )

        fqdn = self.container_group.ip_address.apply(lambda ip: (ip.fqdn or "") if ip else "")
        self.scoring_uri = pulumi.Output.concat("http://", fqdn, f":{PORT}/score")
        self.swagger_uri = pulumi.Output.concat("http://", fqdn, f":{PORT}/swagger.json")
        self.register_outputs({"scoring_uri": self.scoring_uri, "swagger_uri": self.swagger_uri})
