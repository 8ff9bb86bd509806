"""Where captured rows land in Azure, under mocks: the dev file share and its mount, the prod data
collector, its data assets and the lifecycle rule, each from the real stack files."""

import shutil
import textwrap
from pathlib import Path

import pytest

from infra import capture as infra_capture
from infra.config import ConfigError, Values, load
from infra.testing import ROOT, Program, run_program, stack_config
from scoring import capture

STACKS = ("dev", "prod")
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
    share = dev.one(SHARE)
    assert share.get("accountName") == dev.one(ACCOUNT).outputs["name"]
    group = dev.one(ACI)
    [volume] = group.get("volumes")
    assert volume["azureFile"]["shareName"] == share.outputs["name"]
    assert group.is_secret("volumes.0.azureFile.storageAccountKey")
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
    assert protected.one(SHARE).protect


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


PROGRAM = """
    import sys

    sys.path.insert(0, {root!r})
    import pulumi
    from pulumi_azure_native import machinelearningservices as ml

    from infra import config
    from infra.capture import CAPTURES_OUTPUT, CollectedData, CollectedDataArgs, data_collector
    from infra.workspace import Workspace

    cfg = config.load()
    ws = Workspace(cfg.name_prefix, cfg)
    args = CollectedDataArgs(
        ws.resource_group_name, ws.storage_account.name, ws.workspace_name,
        ws.workspace.workspace_id, pulumi.Output.from_input("churn-endpoint"), "blue",
    )
    data = CollectedData(f"{{cfg.name_prefix}}-collected", cfg, args)
    pulumi.export(CAPTURES_OUTPUT, data.location)
    # Only the data collector matters here: a deployment that carries it, as prod's will.
    ml.OnlineDeployment(
        "probe-deployment",
        deployment_name="blue",
        endpoint_name="churn-endpoint",
        resource_group_name=ws.resource_group_name,
        workspace_name=ws.workspace_name,
        location=cfg.location,
        properties=ml.KubernetesOnlineDeploymentArgs(
            endpoint_compute_type="Kubernetes",
            data_collector=data_collector(cfg, data.data_ids),
        ),
    )
"""


@pytest.fixture(scope="module", params=STACKS)
def collected(request, tmp_path_factory) -> Program:
    """The prod side on its own, with each stack's real settings."""
    root = tmp_path_factory.mktemp(request.param)
    for name in ("Pulumi.yaml", f"Pulumi.{request.param}.yaml"):
        shutil.copy(ROOT / name, root / name)
    (root / "__main__.py").write_text(textwrap.dedent(PROGRAM.format(root=str(ROOT))))
    return run_program(request.param, root=Path(root))


def test_the_data_collector_collects_both_collections_hourly_into_their_assets(collected):
    collector = collected.one(DEPLOYMENT).get("properties.dataCollector")
    assert collector["rollingRate"] == "Hour"
    assert set(collector["collections"]) == {"model_inputs", "model_outputs"}
    versions = {v.id: v for v in collected.of_type(DATA_VERSION)}
    rate = float(collected.config["churn-scoring:captureSamplingRate"])
    for name, collection in collector["collections"].items():
        assert collection["dataCollectionMode"] == "Enabled"
        assert collection["samplingRate"] == rate
        uri = versions[collection["dataId"]].get("properties.dataUri")
        assert uri == (
            f"azureml://datastores/workspaceblobstore/paths/modelDataCollector/churn-endpoint/blue/{name}"
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
    assert rule["definition"]["filters"]["prefixMatch"] == [
        f"azureml-blobstore-{workspace_id}/modelDataCollector/churn-endpoint/blue/"
    ]


def test_the_captures_output_names_the_blobs_the_lifecycle_rule_covers(collected):
    where = collected.outputs[infra_capture.CAPTURES_OUTPUT].value
    [prefix] = collected.one(POLICY).get("policy.rules.0.definition.filters.prefixMatch")
    assert prefix == f"{where['container']}/{where['prefix']}"
    assert where["account"] == collected.one(ACCOUNT).outputs["name"]
