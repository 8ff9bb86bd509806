"""Two CI identities that cannot be mixed up: previews run as a read-only identity (a repository
variable), deploys as the deploy identity (a variable of the dev and production environments),
and the program itself grants the preview identity what its previews read on a re-created stack."""

import re
import uuid
from pathlib import Path

import pytest
import yaml

from infra.config import ConfigError
from infra.testing import ROOT, run_program
from infra.workspace import ROLE_NAMESPACE, SHARED_KEY_READ

WORKFLOWS = ROOT / ".github" / "workflows"
ROLE = "azure-native:authorization:RoleAssignment"
ROLE_DEFINITION = "azure-native:authorization:RoleDefinition"
GROUP = "azure-native:resources:ResourceGroup"
LOGS = "azure-native:operationalinsights:Workspace"
PREVIEW_ID = "vars.AZURE_PREVIEW_CLIENT_ID"
DEPLOY_ID = "vars.AZURE_DEPLOY_CLIENT_ID"


def expr(name: str) -> str:
    return "${{ " + name + " }}"


def jobs() -> list[tuple[str, str, dict]]:
    found = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for name, job in (yaml.safe_load(path.read_text())["jobs"] or {}).items():
            found.append((path.name, name, job))
    return found


def azure_jobs() -> list[tuple[str, str, dict]]:
    return [j for j in jobs() if "ARM_CLIENT_ID" in (j[2].get("env") or {})]


def test_no_workflow_reads_a_shared_client_id():
    for path in WORKFLOWS.glob("*.yml"):
        assert not re.search(r"vars\.AZURE_CLIENT_ID\b", path.read_text()), path.name


def test_every_job_that_reaches_azure_is_either_a_preview_or_a_deploy():
    seen = {}
    for workflow, name, job in azure_jobs():
        text = yaml.safe_dump(job)
        uses_preview, uses_deploy = PREVIEW_ID in text, DEPLOY_ID in text
        if "environment" in job:
            # Deploys: the environment's identity, and never the preview one for signing in.
            assert job["env"]["ARM_CLIENT_ID"] == expr(DEPLOY_ID), (workflow, name)
            logins = [s for s in job["steps"] if str(s.get("uses", "")).startswith("azure/login")]
            assert all(s["with"]["client-id"] == expr(DEPLOY_ID) for s in logins)
            seen[workflow] = "deploy"
        else:
            assert uses_preview and not uses_deploy, (workflow, name)
            assert job["env"]["ARM_CLIENT_ID"] == expr(PREVIEW_ID)
            seen[workflow] = "preview"
        assert job["env"]["ARM_USE_OIDC"] == "true"
        assert job["permissions"]["id-token"] == "write"
    assert seen == {"preview.yml": "preview", "up.yml": "deploy", "destroy.yml": "deploy"}


@pytest.mark.parametrize("workflow", ["preview.yml", "up.yml", "destroy.yml"])
def test_the_identity_is_checked_before_anything_reaches_azure(workflow):
    ((_, _, job),) = [j for j in azure_jobs() if j[0] == workflow]
    names = [s.get("name", s.get("uses", s.get("run", ""))) for s in job["steps"]]
    check = next(
        i for i, n in enumerate(names) if str(n).startswith("Check the ") and "identity" in n
    )
    first_azure = next(
        i for i, s in enumerate(job["steps"])
        if str(s.get("uses", "")).startswith(("azure/login", "pulumi/actions"))
    )  # fmt: skip
    assert check < first_azure
    script = job["steps"][check]["run"]
    assert "exit 1" in script and "docs/delivery.md" in script
    if workflow != "preview.yml":
        assert '"$DEPLOY_CLIENT_ID" = "$PREVIEW_CLIENT_ID"' in script


def test_each_up_is_followed_by_the_contract_check():
    ((_, _, job),) = [j for j in azure_jobs() if j[0] == "up.yml"]
    steps = job["steps"]
    up = next(i for i, s in enumerate(steps) if s.get("with", {}).get("command") == "up")
    after = " ".join(str(s.get("run", "")) for s in steps[up + 1 :])
    assert "python -m scoring.client --stack" in after and "--check" in after


PRINCIPAL = "11111111-2222-3333-4444-555555555555"


def target(program) -> str:
    return next(v for k, v in program.config.items() if k.endswith(":target"))


def test_on_the_aci_target_the_preview_identity_may_read_the_logs_shared_key_only():
    program = run_program("dev", overrides={"previewPrincipalId": PRINCIPAL})
    assert target(program) == "aci"
    (grant,) = [r for r in program.of_type(ROLE) if r.get("principalId") == PRINCIPAL]
    (role,) = program.of_type(ROLE_DEFINITION)
    group = program.one(GROUP)
    assert grant.get("scope") == program.one(LOGS).id
    assert grant.get("principalType") == "ServicePrincipal"
    assert grant.get("roleDefinitionId").endswith(
        f"/roleDefinitions/{role.get('roleDefinitionId')}"
    )
    # One action, no wildcard, no data actions; assignable in this stack's group only.
    assert role.get("permissions") == [{"actions": [SHARED_KEY_READ]}]
    assert role.get("assignableScopes") == [group.id] and role.get("scope") == group.id
    assert role.get("roleType") == "CustomRole"


def test_the_custom_role_is_named_and_numbered_after_its_resource_group():
    # Custom role names are unique in a tenant, and dev and prod share one.
    program = run_program("dev", overrides={"previewPrincipalId": PRINCIPAL})
    (role,) = program.of_type(ROLE_DEFINITION)
    group = program.one(GROUP)
    assert group.outputs["name"] in role.get("roleName")
    assert role.get("roleDefinitionId") == str(uuid.uuid5(ROLE_NAMESPACE, group.id))


def test_on_the_aks_target_the_preview_identity_is_granted_nothing():
    program = run_program("prod", overrides={"previewPrincipalId": PRINCIPAL})
    assert target(program) == "aks"
    assert [r for r in program.of_type(ROLE) if r.get("principalId") == PRINCIPAL] == []
    assert program.of_type(ROLE_DEFINITION) == []


def test_without_a_preview_identity_nothing_is_granted():
    program = run_program("dev")
    assert [r.name for r in program.of_type(ROLE) if "preview" in r.name] == []


def test_a_preview_identity_that_is_not_an_object_id_is_refused():
    with pytest.raises(ConfigError, match="previewPrincipalId"):
        run_program("dev", overrides={"previewPrincipalId": "my-preview-app"})


def test_the_key_is_declared_with_an_empty_default():
    spec = yaml.safe_load(Path(ROOT / "Pulumi.yaml").read_text())["config"]["previewPrincipalId"]
    assert spec["default"] == "" and spec["type"] == "string"


def test_the_docs_grant_no_more_than_the_program_and_destroy_prod_by_a_route_that_works():
    text = (ROOT / "docs" / "delivery.md").read_text()
    assert "Log Analytics Contributor" not in text
    assert not re.search(r"previewPrincipalId.*--stack prod", text)
    # A CI `up` runs the policy pack, where unprotected stateful resources are refused on prod.
    assert "pulumi state unprotect --all --stack prod" in text
    assert "protect false` and a deploy" not in text
