"""Where captured rows land in Azure, under mocks: the dev file share and its mount, the prod data
collector, its data assets and the lifecycle rule, each from the real stack files."""

import pytest

from infra import capture as infra_capture
from infra.config import ConfigError, Values, load
from infra.plan import SCENARIOS
from infra.testing import Program, run_program, stack_config
from scoring import capture

SHARE = "azure-native:storage:FileShare"
ACI = "azure-native:containerinstance:ContainerGroup"
ACCOUNT = "azure-native:storage:StorageAccount"
POLICY = "azure-native:storage:ManagementPolicy"
DATA_VERSION = "azure-native:machinelearningservices:DataVersion"
DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"


@pytest.fixture(scope="module")
def dev() -> Program:
    return run_program("dev")


def test_dev_mounts_a_share_of_the_workspace_account_where_the_service_writes(dev):
    share = next(s for s in dev.of_type(SHARE) if s.name.endswith("-captures-share"))
    assert share.get("accountName") == dev.one(ACCOUNT).outputs["name"]
    group = dev.one(ACI)
    volumes = group.get("volumes")
    (index,) = [
        i
        for i, v in enumerate(volumes)
        if v.get("azureFile", {}).get("shareName") == share.outputs["name"]
    ]
    volume = volumes[index]
    assert group.is_secret(f"volumes.{index}.azureFile.storageAccountKey")
    [mount] = group.get("containers.0.volumeMounts")
    assert mount["name"] == volume["name"]
    env = {e["name"]: e.get("value") for e in group.get("containers.0.environmentVariables")}
    assert env[capture.DIR_ENV] == mount["mountPath"]
    retention = dev.config["churn-scoring:captureRetentionDays"]
    assert env[capture.RETENTION_ENV] == retention  # Azure Files has no lifecycle rules
    assert 0 <= float(env[capture.SAMPLING_ENV]) <= 1
    assert env[capture.DEPLOYMENT_ENV] == "dev-aci"


def test_the_share_is_protected_with_the_stateful_resources():
    protected = run_program("dev", overrides={"protect": True})
    assert next(s for s in protected.of_type(SHARE) if s.name.endswith("-captures-share")).protect


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("captureSamplingRate", "1.5"),
        ("captureSamplingRate", "-0.1"),
        ("captureSamplingRate", "all"),
        ("captureRetentionDays", "0"),
        ("captureRetentionDays", "3651"),
    ],
)
def test_bad_capture_settings_are_refused_before_any_resource(key, value):
    project, values = stack_config("dev", {key: value})
    plain = {k.split(":", 1)[1]: v for k, v in values.items()}
    with pytest.raises(ConfigError, match=key):
        load(Values(plain), project, "dev")


def test_the_collection_names_are_the_entry_scripts():
    assert infra_capture.INPUTS == capture.INPUTS_COLLECTION
    assert infra_capture.OUTPUTS == capture.OUTPUTS_COLLECTION


@pytest.fixture(scope="module")
def collected() -> Program:
    """prod while a candidate runs beside the stable release: two deployments behind one endpoint."""
    return run_program("prod", overrides=SCENARIOS["prod-rollout"][1])


def test_every_deployment_collects_both_collections_hourly_into_the_endpoints_assets(collected):
    deployments = collected.of_type(DEPLOYMENT)
    assert len(deployments) == 2
    collector = deployments[0].get("properties.dataCollector")
    assert all(d.get("properties.dataCollector") == collector for d in deployments)
    for deployment in deployments:
        env = deployment.get("properties.environmentVariables")
        assert env[capture.DEPLOYMENT_ENV] == deployment.get("deploymentName")
    endpoint = collected.one("azure-native:machinelearningservices:OnlineEndpoint").outputs["name"]
    assert collector["rollingRate"] == "Hour"
    assert set(collector["collections"]) == {"model_inputs", "model_outputs"}
    versions = {v.id: v for v in collected.of_type(DATA_VERSION)}
    rate = float(collected.config["churn-scoring:captureSamplingRate"])
    for name, collection in collector["collections"].items():
        assert collection["dataCollectionMode"] == "Enabled"
        assert collection["samplingRate"] == rate
        uri = versions[collection["dataId"]].get("properties.dataUri")
        assert uri == (
            f"azureml://datastores/workspaceblobstore/paths/modelDataCollector/{endpoint}/{name}"
        )


def test_collected_blobs_are_deleted_after_the_retention(collected):
    policy = collected.one(POLICY)
    assert policy.get("accountName") == collected.one(ACCOUNT).outputs["name"]
    assert policy.get("managementPolicyName") == "default"
    [rule] = policy.get("policy.rules")
    assert rule["enabled"] and rule["type"] == "Lifecycle"
    days = int(collected.config["churn-scoring:captureRetentionDays"])
    delete = rule["definition"]["actions"]["baseBlob"]["delete"]
    assert delete["daysAfterModificationGreaterThan"] == days
    workspace_id = collected.one("azure-native:machinelearningservices:Workspace").outputs[
        "workspaceId"
    ]
    endpoint = collected.one("azure-native:machinelearningservices:OnlineEndpoint").outputs["name"]
    assert rule["definition"]["filters"]["prefixMatch"] == [
        f"azureml-blobstore-{workspace_id}/modelDataCollector/{endpoint}/"
    ]


def test_the_captures_output_names_the_blobs_the_lifecycle_rule_covers(collected):
    where = collected.outputs[infra_capture.CAPTURES_OUTPUT].value
    [prefix] = collected.one(POLICY).get("policy.rules.0.definition.filters.prefixMatch")
    assert prefix == f"{where['container']}/{where['prefix']}"
    assert where["account"] == collected.one(ACCOUNT).outputs["name"]
