"""The pack on what the real program declares for each stack, run offline under Pulumi's mocks.

prod must pass every mandatory rule; dev must break exactly the rules waived for it in
policy/waivers.py (a stale waiver fails here too). Advisory findings are listed, not asserted.
"""

from __future__ import annotations

import importlib
from functools import cache

import pytest

from infra.testing import run_program
from policy.rules import RULES, TAGGED, TAGGED_IN_PROPERTIES, Resource
from policy.waivers import WAIVERS, stack_of


@cache
def declared(stack: str):
    return run_program(stack).resources


@cache
def findings(stack: str) -> list[tuple[str, bool, str, str]]:
    """(rule, mandatory, resource name, message) for every violation on the stack."""
    found = []
    for resource in declared(stack):
        assert stack_of(resource.urn) == stack, resource.urn
        view = Resource(resource.type, resource.inputs, resource.protect)
        for rule in RULES:
            if rule.applies_to(resource.type) and (message := rule.check(view)):
                found.append((rule.name, rule.mandatory, resource.name, message))
    return found


def mandatory(stack: str) -> set[str]:
    return {rule for rule, is_mandatory, _, _ in findings(stack) if is_mandatory}


def test_prod_passes_every_mandatory_rule():
    assert mandatory("prod") == set()


def test_dev_breaks_exactly_its_waivers():
    assert mandatory("dev") == set(WAIVERS["dev"])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_rule_type_the_stack_declares_is_checked(stack):
    """The rules look at the types the program really declares (not at stale type tokens)."""
    types = {r.type for r in declared(stack)}
    checked = {t for rule in RULES for t in rule.types}
    expected = {
        "dev": {"azure-native:containerinstance:ContainerGroup"},
        "prod": {
            "azure-native:containerservice:ManagedCluster",
            "azure-native:machinelearningservices:OnlineEndpoint",
            "azure-native:machinelearningservices:OnlineDeployment",
            "azure-native:machinelearningservices:Compute",
        },
    }[stack]
    assert expected <= types & checked
    common = {"azure-native:storage:StorageAccount", "azure-native:keyvault:Vault"}
    assert common <= types & checked


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_advisory_findings_are_sentences(stack):
    advisory = [f for f in findings(stack) if not f[1]]
    assert all(len(message.split()) >= 4 for *_, message in advisory)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_tag_rule_covers_every_taggable_type_the_stack_declares(stack):
    """A new taggable resource type in the program must not slip past `tags-required`."""
    for token in {r.type for r in declared(stack) if r.type.startswith("azure-native:")}:
        _, module, name = token.split(":")
        args = getattr(importlib.import_module(f"pulumi_azure_native.{module}"), f"{name}Args")
        if hasattr(args, "tags"):
            assert token in TAGGED, f"{token} takes tags but tags-required does not look at it"
    for resource in declared(stack):
        if resource.get("properties.tags") is not None:
            assert resource.type in TAGGED_IN_PROPERTIES, (
                f"{resource.type} keeps tags in properties but tags-required does not look there"
            )
