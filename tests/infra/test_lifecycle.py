"""What a change and a destroy do: resource options the program declares, recorded from the
engine requests under the mocks (replace rules checked against the SDK, delete order, retained
versions, RBAC waits on both stacks)."""

import inspect
import re
from dataclasses import dataclass

import pytest
from pulumi_azure_native import containerinstance

from infra import aci, assets, propagation
from infra.testing import ROOT, Program, RecordingMonitor, run_program
from policy import rules

ACI = "azure-native:containerinstance:ContainerGroup"
ROLE = "azure-native:authorization:RoleAssignment"
SLEEP = "time:index/sleep:Sleep"
DATASTORE = "azure-native:machinelearningservices:Datastore"
BLOB = "azure-native:storage:Blob"
DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"
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


# Azure's "Update containers in Azure Container Instances" (Microsoft Learn): these need the
# container group deleted before it is redeployed. Written as paths of the SDK's wire names.
DELETE_FIRST = {
    "OS type": "osType",
    "CPU": "containers[*].resources.requests.cpu",
    "memory": "containers[*].resources.requests.memoryInGB",
    "GPU": "containers[*].resources.requests.gpu",
    "restart policy": "restartPolicy",
    "network profile": "subnetIds",
}


def snake(name: str) -> str:
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def sdk_has(path: str) -> bool:
    """Whether `path` (camelCase segments, `[*]` for list items) names an input of the SDK's
    ContainerGroupArgs, walking the nested ...Args classes by their type annotations."""
    kind: type | None = containerinstance.ContainerGroupArgs
    for segment in path.replace("[*]", "").split("."):
        if kind is None or not isinstance(getattr(kind, snake(segment), None), property):
            return False
        hint = str(inspect.signature(getattr(kind, snake(segment)).fget).return_annotation)
        nested = re.search(r"ForwardRef\('(\w+Args)'\)", hint)
        kind = getattr(containerinstance, nested.group(1)) if nested else None
    return True


def covers(rule: str, path: str) -> bool:
    return path == rule or path.startswith(rule + ".")


def test_the_documented_delete_first_properties_are_real_sdk_inputs():
    assert sdk_has("containers[*].resources.requests.memoryInGB")
    assert not sdk_has("containers[*].resources.requests.memory")
    for doc, path in DELETE_FIRST.items():
        assert sdk_has(path), f"{doc}: {path}"


def test_the_container_group_is_replaced_old_one_first_on_every_delete_first_property(recorded):
    program, options = recorded["dev"]
    group = options[program.one(ACI).urn]
    for rule in group.replace_on_changes:
        assert sdk_has(rule), f"replaceOnChanges names {rule}, which ContainerGroup does not have"
    for doc, path in DELETE_FIRST.items():
        assert any(covers(rule, path) for rule in group.replace_on_changes), doc
    # The old group holds the DNS label until it is gone.
    assert group.delete_before_replace


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_asset_versions_their_containers_and_blobs_stay_registered(recorded, stack):
    program, options = recorded[stack]
    kept = [r for r in program.resources if r.type in (*VERSIONS, *ASSET_CONTAINERS, BLOB)]
    assert {r.type for r in kept} == {*VERSIONS, *ASSET_CONTAINERS, BLOB}
    for r in kept:
        assert options[r.urn].retain_on_delete, f"{r.type} {r.name} is deleted on replace"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_asset_versions_carry_no_owner_tag(recorded, stack):
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


PREVIEW = "11111111-2222-3333-4444-555555555555"


@pytest.fixture(scope="module")
def with_preview():
    return {s: run_program(s, overrides={"previewPrincipalId": PREVIEW}) for s in ("dev", "prod")}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_grant_to_an_identity_of_the_program_is_waited_for_before_use(with_preview, stack):
    """A role assigned to an identity the program declares is there for something the program
    declares: that consumer must wait for it, through a Sleep, never depend on it directly."""
    program = with_preview[stack]
    sleeps = program.of_type(SLEEP)
    grants = program.of_type(ROLE)
    assert len(grants) >= 2
    for grant in grants:
        direct = [r.name for r in program.resources if grant.urn in r.dependencies]
        assert all(r.type == SLEEP for r in program.resources if grant.urn in r.dependencies), (
            f"{direct} use {grant.name} without waiting for it to propagate"
        )
        if grant.get("principalId") == PREVIEW:  # used outside the program, by CI previews
            continue
        (wait,) = [s for s in sleeps if grant.urn in s.dependencies]
        assert wait.get("createDuration") == propagation.ROLE_PROPAGATION
        # A replaced assignment (a new id) waits again; an unchanged one does not.
        assert grant.id in (wait.get("triggers") or {}).values(), wait.name
        users = [r.name for r in program.resources if wait.urn in r.dependencies]
        assert users, f"nothing waits on {wait.name}"


@pytest.mark.parametrize(
    ("stack", "role", "consumer"),
    [
        ("dev", "churn-acr-pull", ACI),
        ("dev", "churn-mlw-blob-reader", DATASTORE),
        ("prod", "churn-mlw-blob-reader", DATASTORE),
        ("prod", "churn-endpoint-blob-reader", DEPLOYMENT),
    ],
)
def test_what_needs_a_role_waits_for_it(with_preview, stack, role, consumer):
    program = with_preview[stack]
    grant = next(r for r in program.of_type(ROLE) if r.name == role)
    waits = [s for s in program.of_type(SLEEP) if grant.urn in s.dependencies]
    assert waits and all(
        w.urn in c.dependencies for w in waits for c in program.of_type(consumer)
    ), f"{consumer} does not wait after {role}"


def test_the_scoring_container_is_built_in_one_place(recorded):
    program, _ = recorded["dev"]
    containers = program.one(ACI).get("containers")
    # The scoring container first, then the TLS sidecar (infra/tls.py) in front of it.
    assert [c["name"] for c in containers] == [aci.SCORING, "proxy"]


def recovery_rows() -> list[tuple[str, list[str], str]]:
    """(type, logical names, id tail) of the import table in docs/rollout.md."""
    text = (ROOT / "docs" / "rollout.md").read_text()
    table = text.split("| asset | type | logical name |", 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        names = re.findall(r"`([^`]+)`", cells[2])
        rows.append((cells[1].strip("`"), names, cells[3].strip("`")))
    return rows


def test_the_revert_recovery_names_what_the_program_declares(recorded):
    """The guide's import table: one row per retained kind, logical names and ids as declared."""
    program, _ = recorded["prod"]
    rows = recovery_rows()
    assert {t for t, _, _ in rows} == {*VERSIONS, BLOB}
    assets = program.one("churn:ml:Assets")
    guide = (ROOT / "docs" / "rollout.md").read_text()
    assert f"ASSETS='{assets.urn}'" in guide
    for kind, names, tail in rows:
        declared = [r for r in program.of_type(kind) if r.parent == assets.urn]
        for name in names:
            prefix = name.split("<", 1)[0]
            assert any(r.name.startswith(prefix) for r in declared), (kind, name)
        if kind in VERSIONS:
            (version,) = declared
            assert names == [version.name]
            # The id shape: .../workspaces/<ws>/<kind>/<name>/versions/<version>, as ARM has it.
            pattern = re.escape(tail).replace(r"\$WS", "[^/]+")
            pattern = pattern.replace("<name>", "[^/]+").replace("<version>", "[^/]+")
            assert re.search(pattern + "$", version.id), (tail, version.id)
    assert "never a `git revert`" in guide and "cannot create already existing resource" in guide
