"""The pack itself: policy/__main__.py turns every rule into a pulumi-policy policy."""

from __future__ import annotations

import runpy
import sys
from importlib.metadata import version
from pathlib import Path

import pulumi_policy
import pytest
from pulumi_policy.policy import (
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
    _NotApplicableError,
)

from policy.rules import RULES, VAULT
from policy.waivers import WAIVERS, stack_of, waiver

PACK = Path(__file__).resolve().parents[2] / "policy"


@pytest.fixture(scope="module")
def policies():
    """Run the pack's entry point as Pulumi would, keeping what it hands to PolicyPack."""
    captured: dict = {}

    class Capture:
        def __init__(self, name, policies, **_):
            captured.update(name=name, policies=policies)

    patch = pytest.MonkeyPatch()
    patch.setattr(pulumi_policy, "PolicyPack", Capture)
    patch.syspath_prepend(str(PACK))
    try:
        runpy.run_path(str(PACK / "__main__.py"), run_name="__main__")
    finally:
        patch.undo()
        for module in [m for m in sys.modules if m.split(".")[0] in ("rules", "waivers")]:
            sys.modules.pop(module, None)
    assert captured["name"] == "churn-scoring"
    return {policy.name: policy for policy in captured["policies"]}


def args(resource_type: str, props: dict, stack: str, protect: bool = False):
    urn = f"urn:pulumi:{stack}::churn-scoring::{resource_type}::churn-kv"
    opts = PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    return ResourceValidationArgs(resource_type, props, urn, "churn-kv", opts, None)


def test_one_policy_per_rule_at_its_level(policies):
    assert set(policies) == {rule.name for rule in RULES}
    for rule in RULES:
        level = policies[rule.name].enforcement_level
        expected = "MANDATORY" if rule.mandatory else "ADVISORY"
        assert level == getattr(pulumi_policy.EnforcementLevel, expected), rule.name


def test_violation_is_reported_on_prod(policies):
    reported: list[str] = []
    policies["keyvault-purge-protection"].validate(
        args(VAULT, {"properties": {}}, "prod"), lambda msg, urn=None: reported.append(msg)
    )
    assert reported == [
        "properties.enablePurgeProtection must be true: deleted secrets cannot be purged"
    ]


def test_waived_violation_is_not_applicable_on_dev(policies):
    reported: list[str] = []
    with pytest.raises(_NotApplicableError) as raised:
        policies["keyvault-purge-protection"].validate(
            args(VAULT, {"properties": {}}, "dev"), lambda msg, urn=None: reported.append(msg)
        )
    assert raised.value.reason.startswith("waived on stack dev: dev is destroyed")
    assert "enablePurgeProtection" in raised.value.reason
    assert reported == []


def test_other_types_are_ignored(policies):
    reported: list[str] = []
    policies["aks-rbac"].validate(args(VAULT, {}, "prod"), lambda m, urn=None: reported.append(m))
    assert reported == []


def test_waivers_name_mandatory_rules_only():
    mandatory = {rule.name for rule in RULES if rule.mandatory}
    for stack, waived in WAIVERS.items():
        assert set(waived) <= mandatory, stack
        assert all(len(reason.split()) >= 5 for reason in waived.values())
    assert "prod" not in WAIVERS


def test_stack_comes_from_the_urn():
    assert stack_of("urn:pulumi:dev::churn-scoring::azure-native:keyvault:Vault::kv") == "dev"
    assert waiver("keyvault-purge-protection", "prod") is None


def test_pack_environment_pins_the_locked_versions():
    """`pulumi preview --policy-pack policy` installs policy/requirements.txt into policy/venv."""
    pins = dict(
        line.split("==")
        for line in (PACK / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert pins == {"pulumi-policy": version("pulumi-policy"), "pulumi": version("pulumi")}
