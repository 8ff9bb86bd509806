"""`make plan`: a summary first, the full listing behind a flag, one-line errors naming what is accepted."""

import pytest

from infra import plan
from infra.config import ConfigError
from infra.testing import run_program


@pytest.fixture(scope="module", params=["dev", "prod"])
def program(request):
    return run_program(request.param)


def test_summary_counts_every_resource_under_its_component(program):
    text = plan.summary(program)
    custom = [r for r in program.resources if r.custom]
    components = [r for r in program.resources if r.type.startswith("churn:")]
    assert f"{len(custom)} resources in {len(components)} components" in text.splitlines()[0]
    counts = [int(line.split()[-1]) for line in text.splitlines() if line.startswith("  churn:")]
    assert sum(counts) == len(custom)
    assert len(text.splitlines()) < 40


def test_summary_names_the_billable_items_and_what_up_needs(program):
    text = plan.summary(program)
    billed = text.split("billed while they exist")[1].split("`pulumi up` needs")[0]
    compute = "ContainerGroup" if program.stack == "dev" else "ManagedCluster"
    for kind in (compute, "Registry", "StorageAccount", "Vault"):
        assert kind in billed
    # Only dev builds an image on the deploying machine; prod's AzureML environment builds its own.
    assert ("Docker with buildx" in text) == (program.stack == "dev")


def test_full_listing_is_the_committed_snapshot_format(capsys):
    assert plan.main(["dev", "--full"]) == 0
    assert capsys.readouterr().out == plan.snapshot_path("dev").read_text()


def test_unknown_stack_is_one_line_naming_the_stacks(capsys):
    assert plan.main(["staging"]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == "error: unknown stack 'staging'; this project has dev and prod (Pulumi.<stack>.yaml), "
        "and the scenario prod-rollout\n"
    )


def test_a_missing_target_names_the_accepted_values():
    with pytest.raises(ConfigError, match=r"'target' is not set; allowed: aci \| aks"):
        run_program("dev", overrides={"target": None})


def test_a_config_error_is_one_line_from_make_plan(capsys, monkeypatch):
    def missing(stack, **overrides):
        raise ConfigError("target", None, "aci | aks", missing=True)

    monkeypatch.setattr(plan, "run_program", missing)
    assert plan.main(["dev"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'target' is not set; allowed: aci | aks" in err
