"""What a change and a destroy do: resource options the program declares, recorded from the
engine requests under the mocks (replace rules, delete order, retained versions, RBAC waits)."""

from dataclasses import dataclass

import pytest

from infra import aci, assets, propagation
from infra.testing import Program, RecordingMonitor, run_program
from policy import rules

ACI = "azure-native:containerinstance:ContainerGroup"
ROLE = "azure-native:authorization:RoleAssignment"
SLEEP = "time:index/sleep:Sleep"
DATASTORE = "azure-native:machinelearningservices:Datastore"
BLOB = "azure-native:storage:Blob"
VERSIONS = rules.ML_VERSIONS
ASSET_CONTAINERS = (
    rules.ML_MODEL_CONTAINER,
    rules.ML_ENVIRONMENT_CONTAINER,
    rules.ML_CODE_CONTAINER,
)


@dataclass(frozen=True)
class Options:
    replace_on_changes: tuple[str, ...]
    delete_before_replace: bool
    retain_on_delete: bool


def run_recording_options(stack: str, monkeypatch) -> tuple[Program, dict[str, Options]]:
    options: dict[str, Options] = {}
    register = RecordingMonitor.RegisterResource

    def recording(self, request):
        response = register(self, request)
        options[response.urn] = Options(
            tuple(request.replaceOnChanges),
            bool(request.deleteBeforeReplace),
            bool(request.retainOnDelete),
        )
        return response

    monkeypatch.setattr(RecordingMonitor, "RegisterResource", recording)
    return run_program(stack), options


@pytest.fixture(scope="module")
def recorded():
    with pytest.MonkeyPatch.context() as mp:
        dev = run_recording_options("dev", mp)
    with pytest.MonkeyPatch.context() as mp:
        prod = run_recording_options("prod", mp)
    return {"dev": dev, "prod": prod}


def test_container_group_is_replaced_on_what_aci_cannot_update_deleting_first(recorded):
    program, options = recorded["dev"]
    group = options[program.one(ACI).urn]
    # Azure's "Update containers" page: OS type, CPU, memory, GPU, restart policy and network
    # profile need the group deleted before redeployment.
    assert set(group.replace_on_changes) >= {
        "osType",
        "restartPolicy",
        "containers[*].resources",
        "subnetIds",
    }
    # The old group holds the DNS label until it is gone.
    assert group.delete_before_replace


def test_the_replace_rules_name_inputs_the_container_group_really_has(recorded):
    program, _ = recorded["dev"]
    group = program.one(ACI)
    for path in ("osType", "restartPolicy", "containers.0.resources"):
        assert group.get(path) is not None, path
    assert group.get("ipAddress.dnsNameLabel")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_asset_versions_their_containers_and_blobs_stay_registered(recorded, stack):
    program, options = recorded[stack]
    kept = [r for r in program.resources if r.type in (*VERSIONS, *ASSET_CONTAINERS, BLOB)]
    assert {r.type for r in kept} == {*VERSIONS, *ASSET_CONTAINERS, BLOB}
    for r in kept:
        assert options[r.urn].retain_on_delete, f"{r.type} {r.name} is deleted on replace"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_asset_versions_carry_no_tag_that_can_change(recorded, stack):
    program, _ = recorded[stack]
    for r in program.resources:
        if r.type in VERSIONS:
            tags = r.get("properties.tags")
            assert "owner" not in tags, r.name
            assert set(tags) == {*assets.IMMUTABLE_TAGS, "sha256"}, r.name
            assert rules.versions_without_owner_tag(rules.Resource(r.type, r.inputs)) is None


def test_an_owner_change_leaves_every_asset_version_untouched():
    before = run_program("dev")
    after = run_program("dev", overrides={"owner": "another-team"})

    def versions(program: Program) -> dict[str, dict]:
        return {r.name: r.inputs for r in program.resources if r.type in VERSIONS}

    assert versions(before) == versions(after)
    assert len(versions(before)) == 3


def waits_between(program: Program, role_name: str, consumer_type: str) -> list[str]:
    """The Sleeps that depend on the role assignment and that the consumer depends on."""
    role = next(r for r in program.of_type(ROLE) if r.name == role_name)
    consumer = program.one(consumer_type)
    return [
        s.name
        for s in program.of_type(SLEEP)
        if role.urn in s.dependencies and s.urn in consumer.dependencies
    ]


@pytest.mark.parametrize(
    ("stack", "role", "consumer"),
    [("dev", "churn-acr-pull", ACI), ("dev", "churn-mlw-blob-reader", DATASTORE)],
)
def test_what_needs_a_role_waits_for_it_to_propagate(recorded, stack, role, consumer):
    program, _ = recorded[stack]
    waits = waits_between(program, role, consumer)
    assert len(waits) == 1, f"{consumer} does not wait after {role}"
    sleep = next(s for s in program.of_type(SLEEP) if s.name == waits[0])
    assert sleep.get("createDuration") == propagation.ROLE_PROPAGATION
    # A replaced assignment (a new id) waits again; an unchanged one does not.
    assert sleep.get("triggers.assignment0")


def test_the_wait_is_bounded():
    value = propagation.ROLE_PROPAGATION
    assert value.endswith("s") and 30 <= int(value[:-1]) <= 300


def test_the_scoring_container_is_built_in_one_place(recorded):
    program, _ = recorded["dev"]
    containers = program.one(ACI).get("containers")
    assert [c["name"] for c in containers] == [aci.SCORING]
