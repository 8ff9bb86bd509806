"""The cloud runs the inference-server settings that were measured (docs/performance.md)."""

import re

import pytest

from infra.testing import ROOT, run_program

ACI = "azure-native:containerinstance:ContainerGroup"
DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"


@pytest.fixture(scope="module")
def dev():
    group = run_program("dev").one(ACI)
    return {e["name"]: e.get("value") for e in group.get("containers.0.environmentVariables")}


@pytest.fixture(scope="module")
def prod():
    return run_program("prod").one(DEPLOYMENT)


def dockerfile_env() -> dict[str, str]:
    text = (ROOT / "scoring" / "Dockerfile").read_text()
    return dict(re.findall(r"\b(WORKER_\w+)=(\S+)", text))


def test_containers_run_two_workers_with_a_short_timeout_and_no_preload(dev, prod):
    prod_env = prod.get("properties.environmentVariables")
    for env in (dev, prod_env, dockerfile_env()):
        assert env["WORKER_COUNT"] == "2"
        assert env["WORKER_TIMEOUT"] == "30"
        # Preloading would fork workers from a master that has run XGBoost (OpenMP) and started
        # the telemetry exporters' threads; neither survives a fork reliably.
        assert env.get("WORKER_PRELOAD", "false") == "false"


def test_aks_router_sends_each_replica_as_many_requests_as_it_has_workers(prod):
    workers = int(prod.get("properties.environmentVariables")["WORKER_COUNT"])
    settings = prod.get("properties.requestSettings")
    assert settings["maxConcurrentRequestsPerInstance"] == workers


def test_request_timeouts_leave_room_for_the_largest_request(dev, prod):
    # The largest request (10,000 rows, 4 MiB) takes well under a second on one core.
    assert int(dev["SCORING_TIMEOUT_MS"]) >= 2000
    timeout = prod.get("properties.requestSettings")["requestTimeout"]
    assert float(re.fullmatch(r"PT([\d.]+)S", timeout)[1]) >= 2
