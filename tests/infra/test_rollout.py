"""prod's rollout states under mocks: one release; an older stable release beside the
repository's candidate at 0, 10 and 100 percent; after promotion. Each transition changes only
the traffic, and the deployments created or deleted."""

import json
import os
import re

import pytest

from infra import outputs, release
from infra.config import ConfigError
from infra.plan import ROLLOUT_STABLE, plan_text, snapshot_path
from infra.testing import ROOT, Program, run_program
from tests.infra.test_program import project_copy, retrain

DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"
TRAFFIC = "pulumi-python:dynamic/churn:EndpointTraffic"
STABLE = release.parse(ROLLOUT_STABLE)


def repository() -> release.Release:
    before = os.getcwd()
    os.chdir(ROOT)
    try:
        return release.repository_release()
    finally:
        os.chdir(before)


REPO = repository()


def rollout(candidate_traffic: int, stable: dict | None = ROLLOUT_STABLE) -> Program:
    overrides = {"stableRelease": stable, "candidateTraffic": candidate_traffic}
    return run_program("prod", overrides=overrides)


@pytest.fixture(scope="module")
def states() -> dict[str, Program]:
    return {
        "one": run_program("prod"),
        "at 0": rollout(0),
        "at 10": rollout(10),
        "at 100": rollout(100),
        "promoted": rollout(0, stable=REPO.as_dict()),
    }


def deployments(program: Program) -> dict[str, dict]:
    return {d.get("deploymentName"): d.inputs for d in program.of_type(DEPLOYMENT)}


def traffic(program: Program) -> dict[str, int]:
    return program.one(TRAFFIC).get("traffic")


def differences(before: Program, after: Program) -> tuple[set[str], set[str], set[str]]:
    """(changed, created, deleted) resources between two states, by type and name."""
    old = {(r.type.split(":")[-1], r.name): r.inputs for r in before.resources}
    new = {(r.type.split(":")[-1], r.name): r.inputs for r in after.resources}
    name = " ".join
    return (
        {name(k) for k in old.keys() & new.keys() if old[k] != new[k]},
        {name(k) for k in new.keys() - old.keys()},
        {name(k) for k in old.keys() - new.keys()},
    )


def test_one_release_is_one_deployment_at_100_named_after_it(states):
    one = states["one"]
    assert traffic(one) == {REPO.deployment_name: 100}
    assert list(deployments(one)) == [REPO.deployment_name]
    assert one.outputs[outputs.RELEASE].value == REPO.as_dict()
    assert not one.outputs[outputs.RELEASE].secret


@pytest.mark.parametrize("share", [0, 10, 100])
def test_a_candidate_runs_beside_the_stable_release_with_its_declared_share(states, share):
    program = states[f"at {share}"]
    assert traffic(program) == {STABLE.deployment_name: 100 - share, REPO.deployment_name: share}
    assert set(deployments(program)) == {STABLE.deployment_name, REPO.deployment_name}
    assert program.outputs[outputs.RELEASE].value == REPO.as_dict()
    split = program.one(TRAFFIC)
    for deployment in program.of_type(DEPLOYMENT):
        assert deployment.urn in split.dependencies, "traffic waits for every deployment"


def test_the_stable_deployment_keeps_exactly_its_own_model_code_and_environment(states):
    stable = deployments(states["at 10"])[STABLE.deployment_name]["properties"]
    model_name = json.loads((ROOT / "model_artifacts/manifest.json").read_text())["name"]
    assert stable["model"].endswith(f"/models/{model_name}/versions/{STABLE.model}")
    code, env = stable["codeConfiguration"]["codeId"], stable["environmentId"]
    assert code.endswith(f"/codes/churn-scoring-code/versions/{STABLE.code}")
    assert env.endswith(f"/environments/churn-scoring-env/versions/{STABLE.environment}")
    # The candidate runs what the repository registers.
    candidate = states["at 10"]
    registered = {
        r.type.split(":")[-1]: r.id
        for r in candidate.resources
        if r.type.endswith(("ModelVersion", "CodeVersion", "EnvironmentVersion"))
    }
    props = deployments(candidate)[REPO.deployment_name]["properties"]
    assert props["model"] == registered["ModelVersion"]
    assert props["codeConfiguration"]["codeId"] == registered["CodeVersion"]
    assert props["environmentId"] == registered["EnvironmentVersion"]


def test_a_retrained_model_arrives_as_a_candidate_at_0_beside_the_pinned_release(tmp_path):
    """With stableRelease pinned, the repository moving on adds a deployment and leaves the
    serving one exactly as it was."""
    pinned = {"stableRelease": REPO.as_dict()}
    before = run_program("prod", overrides=pinned)
    root = project_copy(tmp_path)
    retrain(root)
    after = run_program("prod", overrides=pinned, root=root)
    changed, created, deleted = differences(before, after)
    new = after.outputs[outputs.RELEASE].value
    candidate = release.parse(new).deployment_name
    assert created == {f"OnlineDeployment churn-{candidate}"} and deleted == set()
    assert {c for c in changed if not c.startswith(("ModelVersion", "Blob"))} == {
        "EndpointTraffic churn-traffic"
    }
    assert traffic(after) == {REPO.deployment_name: 100, candidate: 0}


@pytest.mark.parametrize(
    ("before", "after"), [("at 0", "at 10"), ("at 10", "at 100"), ("at 10", "at 0")]
)
def test_raising_or_rolling_back_the_share_changes_only_the_traffic(states, before, after):
    assert differences(states[before], states[after]) == (
        {"EndpointTraffic churn-traffic"},
        set(),
        set(),
    )


def test_promotion_moves_the_traffic_and_deletes_only_the_old_deployment(states):
    changed, created, deleted = differences(states["at 100"], states["promoted"])
    assert changed == {"EndpointTraffic churn-traffic"} and created == set()
    assert deleted == {f"OnlineDeployment churn-{STABLE.deployment_name}"}
    assert traffic(states["promoted"]) == {REPO.deployment_name: 100}


def test_a_share_without_a_candidate_is_refused():
    with pytest.raises(ConfigError, match="'candidateTraffic'.*no candidate"):
        run_program("prod", overrides={"candidateTraffic": 10})


@pytest.mark.parametrize(
    "value",
    [
        {"model": "1", "code": "xyz"},
        {"model": "one", "code": "0" * 12, "environment": "0" * 12},
        "v1",
    ],
)
def test_a_malformed_stable_release_is_refused_naming_the_key(value):
    with pytest.raises(ConfigError, match="'stableRelease'.*model.*code.*environment") as failure:
        run_program("prod", overrides={"stableRelease": value})
    assert failure.value.key == "stableRelease"


def test_deployment_names_are_valid_azureml_names():
    for r in (REPO, STABLE, release.Release("999999", "f" * 12, "0" * 12)):
        assert re.fullmatch(r"[a-z][a-z0-9-]{2,31}", r.deployment_name), r.deployment_name


def test_the_committed_rollout_plan_is_what_the_program_declares():
    expected = snapshot_path("prod-rollout").read_text()
    assert plan_text("prod-rollout") == expected, "review the change, then run `make plan-update`"


def test_the_rollout_guide_pins_a_release_the_program_accepts_and_names_it_as_shown():
    import yaml

    guide = (ROOT / "docs/rollout.md").read_text()
    block = guide.split("```yaml\n", 1)[1].split("```", 1)[0]
    pinned = release.parse(yaml.safe_load(block)["config"]["churn-scoring:stableRelease"])
    assert pinned.deployment_name in guide
    workflow = (ROOT / ".github/workflows/up.yml").read_text()
    assert all(name in workflow for name in ("MAX_DELTA_P_LEAVE", "MAX_FLIPS", "infra.compare"))
