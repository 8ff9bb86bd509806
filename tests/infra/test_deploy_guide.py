"""docs/deploy.md is a guide whose commands match the program: numbered steps from an empty
subscription to teardown, every resource provider the stacks use registered in step 3, every
config key it sets declared, every client command accepted by the client."""

import re
import shlex

import pytest
import yaml

from infra.config import TLS_SECRETS
from infra.testing import ROOT, run_program
from scoring import client

GUIDE = (ROOT / "docs" / "deploy.md").read_text()
# azure-native module -> the resource provider namespace Azure must have registered.
NAMESPACES = {
    "applicationinsights": "Microsoft.Insights",
    "containerinstance": "Microsoft.ContainerInstance",
    "containerregistry": "Microsoft.ContainerRegistry",
    "containerservice": "Microsoft.ContainerService",
    "keyvault": "Microsoft.KeyVault",
    "kubernetesconfiguration": "Microsoft.KubernetesConfiguration",
    "machinelearningservices": "Microsoft.MachineLearningServices",
    "managedidentity": "Microsoft.ManagedIdentity",
    "operationalinsights": "Microsoft.OperationalInsights",
    "storage": "Microsoft.Storage",
}
ALWAYS_REGISTERED = {"authorization", "resources"}


def commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", GUIDE, re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_the_steps_are_numbered_from_tools_to_teardown():
    steps = re.findall(r"^(\d+)\. \*\*(.+?)\*\*", GUIDE, re.MULTILINE)
    assert [int(n) for n, _ in steps] == list(range(1, len(steps) + 1))
    titles = " | ".join(t for _, t in steps).lower()
    for topic in ("tools", "register", "quota", "backend", "stack", "up", "check", "change",
                  "prod", "tear down"):  # fmt: skip
        assert topic in titles, topic


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_provider_the_stack_uses_is_registered(stack):
    register = next(c for c in commands() if "az provider register" in c)
    listed = set(re.search(r"for ns in (.+?); do", register).group(1).split())
    modules = {
        r.type.split(":")[1]
        for r in run_program(stack).resources
        if r.type.startswith("azure-native:")
    }
    for module in modules - ALWAYS_REGISTERED:
        assert NAMESPACES[module] in listed, module


def test_every_config_key_the_guide_names_is_declared():
    declared = set(yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"])
    # Secrets have no default to declare (one would make them required on every stack).
    settable = declared | set(TLS_SECRETS)
    for command in commands():
        if command.startswith("pulumi config set "):
            assert shlex.split(command)[3] in settable, command
    step6 = GUIDE[GUIDE.index("6. **") : GUIDE.index("7. **")]
    assert set(re.findall(r"`([a-z][A-Za-z]+)`", step6)) >= declared


def test_every_client_command_is_one_the_client_accepts():
    runs = [c for c in commands() if "python -m scoring.client" in c]
    assert any("--check" in c for c in runs)
    for command in runs:
        argv = shlex.split(command.split("python -m scoring.client", 1)[1])
        args = client.parse_args(argv)
        assert args.stack in ("dev", "prod")


def test_teardown_unprotects_prod_and_says_how_to_purge_dev():
    teardown = GUIDE[GUIDE.index("11. **") :]
    cmds = [c for c in commands() if c in teardown]
    assert cmds.index("pulumi config set protect false --stack prod") < cmds.index(
        "pulumi destroy --stack prod"
    )
    assert any(c.startswith("az keyvault purge") for c in cmds)
    assert "soft-delete" in teardown and "purge protection" in teardown
