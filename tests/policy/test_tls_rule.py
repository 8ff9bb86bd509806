"""`public-endpoints-tls`: no public scoring endpoint without TLS, on hand-made resources and on
what the program declares (prod with infra/tls.py's settings on its extension)."""

import pytest

from infra.testing import run_program
from policy.rules import CONTAINER_GROUP, EXTENSION, PUBLIC_ENDPOINTS_TLS, Resource

AZUREML = "Microsoft.AzureML.Kubernetes"


def check(type_, props):
    return PUBLIC_ENDPOINTS_TLS.check(Resource(type_, props))


def group(ports, kind="Public"):
    return {"ipAddress": {"type": kind, "ports": [{"port": p, "protocol": "TCP"} for p in ports]}}


def extension(**settings):
    base = {"inferenceRouterServiceType": "loadBalancer"}
    return {"extensionType": AZUREML, "configurationSettings": base | settings}


def test_the_rule_is_mandatory_on_container_groups_and_extensions():
    assert PUBLIC_ENDPOINTS_TLS.mandatory
    assert set(PUBLIC_ENDPOINTS_TLS.types) == {CONTAINER_GROUP, EXTENSION}


@pytest.mark.parametrize(
    ("props", "ok"),
    [
        (group([80, 443]), True),
        (group([443]), True),
        (group([5001]), False),
        (group([80, 443, 5001]), False),
        (group([5001], kind="Private"), True),
    ],
)
def test_container_groups_expose_only_https_and_its_redirect(props, ok):
    assert (check(CONTAINER_GROUP, props) is None) is ok


@pytest.mark.parametrize(
    ("props", "ok"),
    [
        (extension(allowInsecureConnections="False", sslCname="scoring.example.com"), True),
        (extension(allowInsecureConnections="True"), False),
        (extension(allowInsecureConnections="True", sslCname="scoring.example.com"), False),
        (extension(allowInsecureConnections="False"), False),
        (extension(allowInsecureConnections="True", internalLoadBalancerProvider="azure"), True),
        (extension(inferenceRouterServiceType="clusterIP", allowInsecureConnections="True"), True),
        ({"extensionType": "microsoft.flux", "configurationSettings": {}}, True),
    ],
)
def test_the_inference_router_serves_tls_unless_it_is_private(props, ok):
    assert (check(EXTENSION, props) is None) is ok


def violations(program):
    found = []
    for resource in program.resources:
        if PUBLIC_ENDPOINTS_TLS.applies_to(resource.type):
            message = PUBLIC_ENDPOINTS_TLS.check(Resource(resource.type, resource.inputs))
            found += [message] if message else []
    return found


def test_dev_passes():
    assert violations(run_program("dev")) == []


def test_prod_passes_with_router_tls():
    assert violations(run_program("prod")) == []


def test_prod_plain_http_passes_only_behind_an_internal_load_balancer():
    plain = {"routerTls": False}
    assert violations(run_program("prod", overrides=plain))
    assert violations(run_program("prod", overrides=plain | {"internalLoadBalancer": True})) == []
