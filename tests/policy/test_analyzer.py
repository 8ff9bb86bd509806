"""The pack as the Pulumi CLI drives it: started as a process, queried over the analyzer gRPC API.

The CLI starts `python __main__.py` in the pack's directory, reads the port it prints, then calls
GetAnalyzerInfo once and Analyze for every resource. This test does the same, on loopback.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from policy.rules import RULES, VAULT

PACK = Path(__file__).resolve().parents[2] / "policy"
MANDATORY = analyzer_pb2.EnforcementLevel.Value("MANDATORY")
ADVISORY = analyzer_pb2.EnforcementLevel.Value("ADVISORY")


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    process = subprocess.Popen(
        [sys.executable, "__main__.py"], cwd=PACK, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().decode().strip()
        assert port.isdigit(), process.stderr.read().decode() if process.stderr else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        process.terminate()
        process.wait(timeout=10)


def analyze(stub, stack: str, resource_type: str, props: dict, protect: bool = False):
    properties = struct_pb2.Struct()
    properties.update(props)
    request = analyzer_pb2.AnalyzeRequest(
        type=resource_type,
        properties=properties,
        urn=f"urn:pulumi:{stack}::churn-scoring::{resource_type}::churn-kv",
        name="churn-kv",
        options=analyzer_pb2.AnalyzerResourceOptions(protect=protect),
    )
    return stub.Analyze(request, timeout=30)


def test_the_cli_sees_every_rule_at_its_level(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    assert info.name == "churn-scoring"
    levels = {policy.name: policy.enforcementLevel for policy in info.policies}
    assert levels == {rule.name: MANDATORY if rule.mandatory else ADVISORY for rule in RULES}


COMPLIANT_VAULT = {
    "properties": {"enableRbacAuthorization": True, "enablePurgeProtection": True},
    "tags": {"project": "churn-scoring", "stack": "prod", "owner": "team"},
}


def test_a_compliant_prod_vault_raises_only_the_advisory_firewall_note(analyzer):
    response = analyze(analyzer, "prod", VAULT, COMPLIANT_VAULT, protect=True)
    assert [(d.policyName, d.enforcementLevel) for d in response.diagnostics] == [
        ("keyvault-firewall", ADVISORY)
    ]


def test_purge_protection_is_mandatory_on_prod_and_waived_on_dev(analyzer):
    props = {**COMPLIANT_VAULT, "properties": {"enableRbacAuthorization": True}}
    prod = analyze(analyzer, "prod", VAULT, props, protect=True)
    assert ("keyvault-purge-protection", MANDATORY) in {
        (d.policyName, d.enforcementLevel) for d in prod.diagnostics
    }
    dev = analyze(analyzer, "dev", VAULT, props, protect=False)
    assert {d.policyName for d in dev.diagnostics} == {"keyvault-firewall"}
    waived = {n.policy_name: n.reason for n in dev.not_applicable}
    assert waived.keys() >= {"keyvault-purge-protection", "stateful-resources-protected"}
    assert waived["keyvault-purge-protection"].startswith("waived on stack dev: ")
