"""Rules the Pulumi program obeys, checked by running the real `__main__.py` under mocks with the
real `Pulumi.dev.yaml` / `Pulumi.prod.yaml` (see infra/testing.py).

Each stack runs once per module (about 3 s a run); tests that change the config or the artifacts
run the program again.
"""

import inspect
import json
import shutil
from importlib import import_module
from pathlib import Path

import pulumi
import pytest
from pulumi.runtime.sync_await import _sync_await
from pulumi_azure_native import machinelearningservices as ml

from infra import assets, outputs
from infra.config import ConfigError
from infra.online import endpoint_revision
from infra.plan import snapshot_path
from infra.tags import KEYS
from infra.testing import (
    ROOT,
    AzureMocks,
    Program,
    StackOutput,
    content_masks,
    render_plan,
    run_program,
)

STACKS = ("dev", "prod")
ACI = "azure-native:containerinstance:ContainerGroup"
CLUSTER = "azure-native:containerservice:ManagedCluster"
EXTENSION = "azure-native:kubernetesconfiguration:Extension"
COMPUTE = "azure-native:machinelearningservices:Compute"
ENDPOINT = "azure-native:machinelearningservices:OnlineEndpoint"
DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"
TRAFFIC = "pulumi-python:dynamic/churn:EndpointTraffic"
MODEL_VERSION = "azure-native:machinelearningservices:ModelVersion"


@pytest.fixture(scope="module")
def programs() -> dict[str, Program]:
    return {stack: run_program(stack) for stack in STACKS}


def env_of(program: Program) -> dict[str, dict]:
    group = program.one(ACI)
    return {e["name"]: e for e in group.get("containers.0.environmentVariables")}


def expected_tags(program: Program) -> dict[str, str]:
    owner = program.config["churn-scoring:owner"]
    return {"project": "churn-scoring", "stack": program.stack, "owner": owner}


# -- what each stack declares -----------------------------------------------------------------
def test_dev_serves_from_a_container_group_and_has_no_cluster(programs):
    dev = programs["dev"]
    assert len(dev.of_type(ACI)) == 1
    for absent in (CLUSTER, EXTENSION, COMPUTE, ENDPOINT, DEPLOYMENT, TRAFFIC):
        assert dev.of_type(absent) == [], absent


def test_prod_serves_from_aks_and_has_no_container_group(programs):
    prod = programs["prod"]
    for present in (CLUSTER, EXTENSION, COMPUTE, ENDPOINT, DEPLOYMENT, TRAFFIC):
        assert len(prod.of_type(present)) == 1, present
    assert prod.of_type(ACI) == []


@pytest.mark.parametrize("stack", STACKS)
def test_both_stacks_register_the_model_environment_and_code(programs, stack):
    program = programs[stack]
    manifest = json.loads((ROOT / assets.MANIFEST).read_text())
    model = program.one(MODEL_VERSION)
    assert (model.get("name"), model.get("version")) == (manifest["name"], str(manifest["version"]))
    assert model.get("properties.tags.sha256") == assets.read_model(ROOT / assets.MANIFEST).digest
    model_blobs = [
        b for b in program.of_type("azure-native:storage:Blob") if "models/" in b.get("blobName")
    ]
    uploaded = sorted(Path(b.get("blobName")).name for b in model_blobs)
    assert uploaded == sorted(["manifest.json", *manifest["artifacts"]])
    for typ in ("EnvironmentVersion", "CodeVersion"):
        assert len(program.of_type(f"azure-native:machinelearningservices:{typ}")) == 1


def test_prod_deployment_runs_the_registered_assets_behind_100_percent_traffic(programs):
    prod = programs["prod"]
    deployment = prod.one(DEPLOYMENT)
    ml = "azure-native:machinelearningservices"
    assert deployment.get("properties.model") == prod.one(MODEL_VERSION).id
    assert deployment.get("properties.environmentId") == prod.one(f"{ml}:EnvironmentVersion").id
    assert deployment.get("properties.codeConfiguration.codeId") == prod.one(f"{ml}:CodeVersion").id
    assert deployment.get("properties.endpointComputeType") == "Kubernetes"
    assert deployment.get("properties.codeConfiguration.scoringScript") == assets.ENTRY_SCRIPT
    assert deployment.get("properties.livenessProbe") and deployment.get(
        "properties.readinessProbe"
    )
    assert deployment.get("properties.requestSettings.maxConcurrentRequestsPerInstance") >= 1
    assert deployment.get("properties.appInsightsEnabled") is True
    traffic = prod.one(TRAFFIC)
    assert traffic.get("traffic") == {deployment.get("deploymentName"): 100}
    assert deployment.urn in traffic.dependencies, "traffic must wait for the deployment"
    assert prod.one(ENDPOINT).get("properties.traffic") in (None, {})
    extension = prod.one(EXTENSION)
    assert extension.get("extensionType") == "Microsoft.AzureML.Kubernetes"
    assert extension.get("configurationSettings.enableInference") == "True"
    cluster = prod.one(CLUSTER)
    assert cluster.get("identity.type") == "SystemAssigned" and cluster.get("enableRBAC") is True
    pool = cluster.get("agentPoolProfiles.0")
    assert pool["enableAutoScaling"] and pool["mode"] == "System"
    # The profiles only seed the cluster: later updates leave the pools to their own resources
    # and the counts to the autoscaler.
    assert "agentPoolProfiles" in cluster.ignore_changes
    serving = prod.one("azure-native:containerservice:AgentPool")
    assert serving.get("enableAutoScaling") and "count" in serving.ignore_changes


def test_dev_container_group_matches_the_original_size_and_is_probed(programs):
    group = programs["dev"].one(ACI)
    container = group.get("containers.0")
    assert container["resources"]["requests"] == {"cpu": 1, "memoryInGB": 1}
    assert container["ports"] == [{"port": 5001}]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["path"] == "/"
        assert container[probe]["httpGet"]["port"] == 5001
    assert group.get("ipAddress.dnsNameLabel")
    assert group.get("ipAddress.autoGeneratedDomainNameLabelScope") == "TenantReuse"
    assert group.get("imageRegistryCredentials.0.identity"), "the image is pulled by identity"
    assert env_of(programs["dev"])["AML_APP_INSIGHTS_ENABLED"]["value"] == "true"


# -- auth -------------------------------------------------------------------------------------
def test_dev_requires_the_generated_key_as_a_secure_value(programs):
    dev = programs["dev"]
    env = env_of(dev)
    assert env["CHURN_REQUIRE_KEY"]["value"] == "true"
    key = env["CHURN_SCORING_KEY"]
    assert "value" not in key and key["secureValue"]
    assert (
        key["secureValue"]
        == dev.one("random:index/randomPassword:RandomPassword").outputs["result"]
    )
    group = dev.one(ACI)
    index = group.get("containers.0.environmentVariables").index(key)
    assert group.is_secret(f"containers.0.environmentVariables.{index}.secureValue")


def test_prod_endpoint_uses_key_auth_with_the_generated_key(programs):
    endpoint = programs["prod"].one(ENDPOINT)
    assert endpoint.get("properties.authMode") == "Key"
    assert endpoint.is_secret("properties.keys.primaryKey")


class RotatedKeyMocks(AzureMocks):
    """The same cloud, but the key generator answers a different key."""

    def new_resource(self, args):
        resource_id, outs = super().new_resource(args)
        if args.typ == "random:index/randomPassword:RandomPassword":
            outs["result"] = f"rotated-{args.name}-value"
        return resource_id, outs


def test_a_new_key_re_applies_the_traffic_without_showing_the_key(programs):
    """Rotating the key re-PUTs the endpoint without traffic; the traffic must follow."""
    before = programs["prod"]
    after = run_program("prod", azure=RotatedKeyMocks())
    key = after.one(ENDPOINT).get("properties.keys.primaryKey")
    assert key != before.one(ENDPOINT).get("properties.keys.primaryKey")
    revision = after.one(TRAFFIC).get("revision")
    assert revision != before.one(TRAFFIC).get("revision")
    assert not after.one(TRAFFIC).secret_paths and key not in json.dumps(after.one(TRAFFIC).inputs)


def test_the_traffic_revision_covers_every_endpoint_setting():
    def endpoint(key: str = "k1", description: str = "d", access: str = "Enabled"):
        return ml.OnlineEndpointArgs(
            resource_group_name="rg",
            workspace_name="ws",
            identity=ml.ManagedServiceIdentityArgs(type="SystemAssigned"),
            properties=ml.OnlineEndpointPropertiesArgs(
                auth_mode="Key",
                keys=ml.EndpointAuthKeysArgs(primary_key=pulumi.Output.secret(key)),
                description=description,
                public_network_access=access,
            ),
        )

    def revision(args):
        out = endpoint_revision(args)
        assert not _sync_await(out.is_secret()), "a hash of the key is not the key"
        return _sync_await(out.future())

    base = revision(endpoint())
    assert base == revision(endpoint())
    for changed_args in (
        endpoint(key="k2"),
        endpoint(description="e"),
        endpoint(access="Disabled"),
    ):
        assert revision(changed_args) != base


@pytest.mark.parametrize("stack", STACKS)
def test_the_exported_key_is_the_key_the_server_checks(programs, stack):
    """The client reads the key from the stack output; the server must accept exactly that key."""
    program = programs[stack]
    if stack == "dev":
        checked = env_of(program)["CHURN_SCORING_KEY"]["secureValue"]
    else:
        checked = program.one(ENDPOINT).get("properties.keys.primaryKey")
    assert checked and program.outputs[outputs.SCORING_KEY].value == checked


def test_turning_auth_off_is_an_explicit_visible_choice():
    dev = run_program("dev", overrides={"auth": "none"})
    env = env_of(dev)
    assert env["CHURN_REQUIRE_KEY"]["value"] == "false"
    assert "CHURN_SCORING_KEY" not in env
    assert dev.of_type("random:index/randomPassword:RandomPassword") == [], "no unused key"
    assert dev.outputs[outputs.SCORING_KEY] == StackOutput(value="", secret=True)


def test_app_insights_off_sends_no_telemetry_key():
    env = env_of(run_program("dev", overrides={"appInsights": False}))
    assert env["AML_APP_INSIGHTS_ENABLED"]["value"] == "false"
    assert "AML_APP_INSIGHTS_KEY" not in env


def test_auth_cannot_be_turned_off_on_aks():
    with pytest.raises(ConfigError, match="'auth'"):
        run_program("prod", overrides={"auth": "none"})


@pytest.mark.parametrize("stack", STACKS)
def test_keys_are_secret(programs, stack):
    program = programs[stack]
    assert set(program.outputs) == set(outputs.ALL)
    assert program.outputs[outputs.SCORING_KEY].secret
    assert program.outputs[outputs.SCORING_KEY].value
    for name in (outputs.SCORING_URI, outputs.SWAGGER_URI, outputs.WORKSPACE):
        assert not program.outputs[name].secret and program.outputs[name].value
    if stack == "dev":
        image = program.one("docker-build:index:Image")
        assert image.is_secret("registries.0.password")
        group = program.one(ACI)
        assert group.is_secret("diagnostics.logAnalytics.workspaceKey")
        for i, variable in enumerate(group.get("containers.0.environmentVariables")):
            if "secureValue" in variable:
                assert group.is_secret(f"containers.0.environmentVariables.{i}.secureValue")


# -- storage, registry, vault, protection -------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_storage_registry_and_vault_are_locked_down(programs, stack):
    program = programs[stack]
    account = program.one("azure-native:storage:StorageAccount")
    assert account.get("enableHttpsTrafficOnly") is True
    assert account.get("minimumTlsVersion") == "TLS1_2"
    assert account.get("allowBlobPublicAccess") is False
    assert program.one("azure-native:storage:BlobContainer").get("publicAccess") == "None"
    assert program.one("azure-native:containerregistry:Registry").get("adminUserEnabled") is False
    vault = program.one("azure-native:keyvault:Vault")
    assert vault.get("properties.enableRbacAuthorization") is True
    purge = vault.get("properties.enablePurgeProtection")
    assert purge is (True if stack == "prod" else None)
    workspace = program.one("azure-native:machinelearningservices:Workspace")
    assert workspace.get("identity.type") == "SystemAssigned"
    logs = program.one("azure-native:operationalinsights:Workspace")
    insights = program.one("azure-native:applicationinsights:Component")
    assert insights.get("workspaceResourceId") == logs.id, "App Insights is workspace-based"
    assert insights.get("ingestionMode") == "LogAnalytics"
    wired = {"storageAccount", "keyVault", "applicationInsights", "containerRegistry"}
    assert all(workspace.get(key) for key in wired)


@pytest.mark.parametrize("stack", STACKS)
def test_physical_names_are_left_to_autonaming(programs, stack):
    """A random suffix lets a destroyed stack come back while Azure soft-deletes the old ones."""
    program = programs[stack]
    name_keys = {
        "azure-native:storage:StorageAccount": "accountName",
        "azure-native:keyvault:Vault": "vaultName",
        "azure-native:containerregistry:Registry": "registryName",
        "azure-native:machinelearningservices:Workspace": "workspaceName",
        "azure-native:resources:ResourceGroup": "resourceGroupName",
    }
    for typ, key in name_keys.items():
        assert program.one(typ).get(key) is None, f"{typ} sets {key}"


def test_prod_protects_its_stateful_resources_and_dev_does_not(programs):
    stateful = {
        "azure-native:storage:StorageAccount",
        "azure-native:keyvault:Vault",
        "azure-native:containerregistry:Registry",
        "azure-native:operationalinsights:Workspace",
        "azure-native:machinelearningservices:Workspace",
    }
    prod_protected = {r.type for r in programs["prod"].resources if r.protect}
    assert prod_protected == stateful
    assert not any(r.protect for r in programs["dev"].resources)


# -- tags and parents ---------------------------------------------------------------------------
def args_class(type_token: str):
    package, module, name = type_token.split(":")
    if package != "azure-native":
        return None
    mod = import_module(f"pulumi_azure_native.{module}")
    return getattr(mod, f"{name}Args", None)


@pytest.mark.parametrize("stack", STACKS)
def test_every_taggable_resource_carries_the_tags(programs, stack):
    program = programs[stack]
    expected = expected_tags(program)
    assert set(expected) == set(KEYS)
    checked = 0
    for r in program.resources:
        cls = args_class(r.type)
        if cls is None:
            continue
        if "tags" in inspect.signature(cls.__init__).parameters:
            assert r.get("tags") == expected, f"{r.type} {r.name}"
            checked += 1
        elif (
            r.get("properties.tags") is not None
            or r.type.startswith("azure-native:machinelearningservices:")
            and r.type.endswith(("Container", "Version"))
        ):
            tags = r.get("properties.tags")
            # Retained asset versions carry no owner tag, which would go stale (tests/infra/test_lifecycle.py).
            keys = assets.IMMUTABLE_TAGS if r.type.endswith("Version") else KEYS
            assert {k: tags[k] for k in keys} == {k: expected[k] for k in keys}, r.name
            checked += 1
    assert checked >= 12


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_is_parented_by_a_component(programs, stack):
    for r in programs[stack].resources:
        if r.custom:
            assert r.parent_type.startswith("churn:ml:"), f"{r.type} {r.name}"
            assert r.name.startswith("churn"), f"{r.name} is not derived from its component"
        else:
            # Components sit under the stack, or under the component whose part they are.
            assert r.type.startswith("churn:ml:"), r.type
            assert r.parent_type == "pulumi:pulumi:Stack" or r.parent_type.startswith("churn:ml:")


# -- the config -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("target", "gke", "aci | aks"),
        ("auth", "maybe", "key | none"),
        ("aciCpu", "lots", "a number"),
        ("aciMemoryGb", "64", "a number from 0.1 to 16"),
        ("aksNodeMin", 0, "an integer from 1"),
        ("replicasMax", 1, "an integer from 2"),
        ("namePrefix", "Churn!", "lowercase"),
        ("appInsights", "yes", "true | false"),
    ],
)
def test_invalid_config_fails_naming_the_key_and_the_allowed_values(key, value, allowed):
    stack = "prod" if key.startswith(("aks", "replicas")) else "dev"
    with pytest.raises(ConfigError) as failure:
        run_program(stack, overrides={key: value})
    assert failure.value.key == key
    assert f"'{key}'" in str(failure.value) and allowed in str(failure.value)


def test_missing_config_fails_naming_the_key():
    with pytest.raises(pulumi.ConfigMissingError, match="churn-scoring:owner"):
        run_program("dev", overrides={"owner": None})


def test_the_request_timeout_reaches_aks_as_an_iso_8601_duration():
    deployment = run_program("prod", overrides={"requestTimeoutMs": 2500}).one(DEPLOYMENT)
    assert deployment.get("properties.requestSettings.requestTimeout") == "PT2.5S"


# -- the pins and the artifacts ---------------------------------------------------------------
def test_environment_takes_its_pins_and_base_image_from_the_image_recipe(programs):
    env = programs["prod"].one("azure-native:machinelearningservices:EnvironmentVersion")
    requirements = (ROOT / assets.REQUIREMENTS).read_text().splitlines()
    pins = [line for line in requirements if line.strip() and not line.startswith("#")]
    conda = env.get("properties.condaFile")
    listed = [
        json.loads(line.split("- ", 1)[1])
        for line in conda.splitlines()
        if line.startswith("      - ")
    ]
    assert listed == pins
    assert env.get("properties.image") == assets.base_image(ROOT / assets.DOCKERFILE)


def project_copy(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "__main__.py"):
        shutil.copy(ROOT / name, root / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("infra", "scoring", "model_artifacts"):
        shutil.copytree(ROOT / folder, root / folder, ignore=ignore)
    return root


def retrain(root: Path) -> None:
    """What `make train` does when the classifier changes: new bytes, new hash, next version."""
    manifest_path = root / assets.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    classifier = root / assets.ARTIFACTS / "modelML2.ubj"
    classifier.write_bytes(classifier.read_bytes() + b" ")
    manifest["artifacts"]["modelML2.ubj"] = assets.file_sha256(classifier)
    manifest["version"] += 1
    manifest_path.write_text(json.dumps(manifest, indent=2))


def without(program: Program, types: tuple[str, ...]) -> Program:
    kept = [r for r in program.resources if r.type not in types]
    return Program(program.stack, program.config, kept, program.outputs)


def changed(before: Program, after: Program) -> set[str]:
    old = {(r.type, r.name): r.inputs for r in before.resources}
    new = {(r.type, r.name): r.inputs for r in after.resources}
    assert old.keys() == new.keys(), "the set of resources changed"
    return {
        f"{typ.split(':')[-1]} {name}" for (typ, name) in old if old[typ, name] != new[typ, name]
    }


@pytest.mark.parametrize("stack", STACKS)
def test_unchanged_artifacts_declare_exactly_the_same_resources(programs, stack):
    assert changed(programs[stack], run_program(stack)) == set()


@pytest.mark.parametrize("stack", STACKS)
def test_a_changed_artifact_changes_the_model_version_and_what_is_built_from_it(
    programs, stack, tmp_path
):
    root = project_copy(tmp_path)
    retrain(root)
    after = run_program(stack, root=root)
    model_blobs = {"Blob churn-model-manifest.json", "Blob churn-model-modelML2.ubj",
                   "Blob churn-model-pipeline_processing.pkl",
                   "Blob churn-model-reference_profile.json",
                   "Blob churn-model-pipeline_processing.skops"}  # fmt: skip
    consumers = {"Image churn-image", "ContainerGroup churn-aci"} if stack == "dev" else set()
    # On prod a new release is a new deployment named after it (tests/infra/test_rollout.py).
    rollout = (DEPLOYMENT, TRAFFIC) if stack == "prod" else ()
    assert (
        changed(without(programs[stack], rollout), without(after, rollout))
        == {"ModelVersion churn-model-version"} | model_blobs | consumers
    )
    version = after.one(MODEL_VERSION).get("version")
    assert int(version) == int(programs[stack].one(MODEL_VERSION).get("version")) + 1


def test_an_artifact_edited_without_retraining_is_refused(tmp_path):
    root = project_copy(tmp_path)
    classifier = root / assets.ARTIFACTS / "modelML2.ubj"
    classifier.write_bytes(classifier.read_bytes() + b" ")
    with pytest.raises(assets.AssetError, match="modelML2.ubj does not match"):
        run_program("dev", root=root)


# -- the plan snapshot ------------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_the_committed_plan_is_what_the_program_declares(programs, stack):
    expected = snapshot_path(stack).read_text()
    actual = render_plan(programs[stack], content_masks())
    assert actual == expected, f"the {stack} plan changed: review it, then run `make plan-update`"
