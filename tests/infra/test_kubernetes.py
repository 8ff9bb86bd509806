"""prod's compute and what the online service needs from Azure before a deployment: rules checked
on the real program under mocks."""

import pytest

from infra.kubernetes import extension_settings, pool_name
from infra.testing import Program, run_program

CLUSTER = "azure-native:containerservice:ManagedCluster"
POOL = "azure-native:containerservice:AgentPool"
EXTENSION = "azure-native:kubernetesconfiguration:Extension"
COMPUTE = "azure-native:machinelearningservices:Compute"
DETACH = "pulumi-python:dynamic/churn:ComputeDetach"
ENDPOINT = "azure-native:machinelearningservices:OnlineEndpoint"
DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"
ROLE = "azure-native:authorization:RoleAssignment"
SLEEP = "time:index/sleep:Sleep"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
BLOB_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"

# What `az k8s-extension create` sends for an AKS cluster with inference only (see
# infra/kubernetes.py for each key's source), plus the router's TLS choice.
# With the router serving TLS (the default): sslCname beside allowInsecureConnections=False.
CLI_KEYS = {
    "enableTraining", "enableInference", "inferenceRouterServiceType", "clusterPurpose",
    "inferenceRouterHA", "cluster_name", "clusterId",
    "prometheus.prometheusSpec.externalLabels.cluster_name", "cluster_name_friendly", "domain",
    "location", "jobSchedulerLocation", "servicebus.enabled", "relayserver.enabled",
    "nginxIngress.enabled", "allowInsecureConnections", "sslCname",
}  # fmt: skip


@pytest.fixture(scope="module")
def prod() -> Program:
    return run_program("prod")


def named(program: Program, type_: str, suffix: str):
    (found,) = [r for r in program.of_type(type_) if r.name.endswith(suffix)]
    return found


def test_the_extension_is_configured_as_the_cli_configures_a_managed_cluster(prod):
    extension = prod.one(EXTENSION)
    settings = extension.get("configurationSettings")
    assert set(settings) == CLI_KEYS
    cluster = prod.one(CLUSTER)
    for key in (
        "cluster_name",
        "clusterId",
        "prometheus.prometheusSpec.externalLabels.cluster_name",
    ):
        assert settings[key] == cluster.id
    assert settings["cluster_name_friendly"] == cluster.outputs["name"]
    assert settings["domain"] == "westeurope.cloudapp.azure.com"
    assert settings["location"] == settings["jobSchedulerLocation"] == "westeurope"
    assert (settings["servicebus.enabled"], settings["relayserver.enabled"]) == ("false", "false")
    assert settings["nginxIngress.enabled"] == "true"
    assert (settings["enableTraining"], settings["enableInference"]) == ("False", "True")
    assert extension.get("identity.type") == "SystemAssigned"


@pytest.mark.parametrize(
    ("node_min", "purpose", "ha"), [(1, "DevTest", "False"), (2, "FastProd", "True")]
)
def test_a_small_cluster_is_devtest_with_a_single_router(node_min, purpose, ha):
    """The CLI counts every pool's nodes: the system node plus the serving pool's minimum."""
    from infra.config import Values, load
    from infra.testing import stack_config

    _, values = stack_config("prod", {"aksNodeMin": node_min})
    cfg = load(Values({k.split(":", 1)[1]: v for k, v in values.items()}), "p", "prod")
    settings = extension_settings(cfg, "/id", "name", {})
    assert (settings["clusterPurpose"], settings["inferenceRouterHA"]) == (purpose, ha)


def test_the_router_serves_tls_with_its_certificate_only_in_protected_settings(prod):
    extension = prod.one("azure-native:kubernetesconfiguration:Extension")
    settings = extension.get("configurationSettings")
    assert settings["allowInsecureConnections"] == "False"
    assert settings["sslCname"] == "scoring.example.com"
    for key in ("scoringFe.sslCert", "scoringFe.sslKey"):
        assert key not in settings
        assert extension.is_secret(f"configurationProtectedSettings.{key}"), key


def test_a_new_node_size_is_a_new_pool_and_leaves_the_cluster_alone(prod):
    bigger = run_program("prod", overrides={"aksNodeSize": "Standard_D8s_v5"})
    assert bigger.one(POOL).get("agentPoolName") != prod.one(POOL).get("agentPoolName")
    assert bigger.one(POOL).get("vmSize") == "Standard_D8s_v5"
    assert bigger.one(CLUSTER).inputs == prod.one(CLUSTER).inputs
    assert pool_name("Standard_D4s_v5") == "d4sv5"
    for size in ("Standard_NC24ads_A100_v4", "Standard_D4s_v5", "Standard_9x"):
        assert len(pool_name(size)) <= 12 and pool_name(size)[0].isalpha()
        assert pool_name(size).isalnum() and pool_name(size) == pool_name(size).lower()


def test_the_compute_is_detached_by_its_own_step_after_everything_that_uses_it(prod):
    compute, detach, endpoint = prod.one(COMPUTE), prod.one(DETACH), prod.one(ENDPOINT)
    assert compute.retain_on_delete, "the provider's plain DELETE would be refused"
    assert detach.get("compute_id") == compute.id
    assert endpoint.get("properties.compute") == compute.id
    # The endpoint takes the id from the detach step, so it is deleted before the detach runs.
    assert detach.urn in endpoint.dependencies


def test_the_image_pull_is_authorized_and_propagated_before_anything_runs(prod):
    pull = named(prod, ROLE, "-kubelet-acr-pull")
    assert pull.get("principalId") == "kubelet-object"
    assert pull.get("roleDefinitionId").endswith(ACR_PULL)
    wait = named(prod, SLEEP, "-kubelet-acr-pull-propagation")
    assert wait.get("triggers.assignment0") == pull.id and wait.get("createDuration")
    assert wait.urn in prod.one(DETACH).dependencies


def test_the_endpoint_identity_reads_the_assets_before_each_deployment(prod):
    endpoint = prod.one(ENDPOINT)
    principal = endpoint.outputs["identity"]["principalId"]
    grants = [r for r in prod.of_type(ROLE) if r.get("principalId") == principal]
    (reader,) = grants
    assert reader.get("roleDefinitionId").endswith(BLOB_READER)
    assert reader.get("scope") == prod.one("azure-native:storage:BlobContainer").id
    # AcrPull on the workspace's registry is AzureML's own assignment: a second one is refused.
    workspace = prod.one("azure-native:machinelearningservices:Workspace")
    assert (
        workspace.get("containerRegistry") == prod.one("azure-native:containerregistry:Registry").id
    )
    wait = named(prod, SLEEP, "-endpoint-grants-propagation")
    assert wait.get("triggers") == {"assignment0": reader.id}
    seconds = int(wait.get("createDuration").removesuffix("s"))
    assert 30 <= seconds <= 600, "bounded: long enough for RBAC, short enough to fail fast"
    for deployment in prod.of_type(DEPLOYMENT):
        assert wait.urn in deployment.dependencies
