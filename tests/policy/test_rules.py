"""Every rule on a hand-made compliant resource and a hand-made violating one."""

from __future__ import annotations

import importlib

import pytest
from pulumi.type_token import get_type_token

from policy import rules as r
from policy.rules import RULES, Resource

TAGS = {"project": "churn-scoring", "stack": "prod", "owner": "team"}
DIGEST = "@sha256:" + "0" * 64
PROBE = {"httpGet": {"path": "/", "port": 5001}}

# rule name -> (resource type, good props, bad props); protect flags via the helper below.
CASES: dict[str, tuple[str, dict, dict]] = {
    "storage-https-only": (
        r.STORAGE_ACCOUNT, {"enableHttpsTrafficOnly": True}, {"enableHttpsTrafficOnly": False}
    ),
    "storage-min-tls-1-2": (
        r.STORAGE_ACCOUNT, {"minimumTlsVersion": "TLS1_2"}, {"minimumTlsVersion": "TLS1_0"}
    ),
    "storage-no-public-blob-access": (
        r.STORAGE_ACCOUNT, {"allowBlobPublicAccess": False}, {}
    ),
    "storage-container-private": (
        r.BLOB_CONTAINER, {"publicAccess": "None"}, {"publicAccess": "Blob"}
    ),
    "storage-geo-redundant": (
        r.STORAGE_ACCOUNT, {"sku": {"name": "Standard_GRS"}}, {"sku": {"name": "Standard_LRS"}}
    ),
    "keyvault-rbac": (
        r.VAULT,
        {"properties": {"enableRbacAuthorization": True}},
        {"properties": {"accessPolicies": []}},
    ),
    "keyvault-soft-delete": (
        r.VAULT, {"properties": {}}, {"properties": {"enableSoftDelete": False}}
    ),
    "keyvault-purge-protection": (
        r.VAULT,
        {"properties": {"enablePurgeProtection": True}},
        {"properties": {"enablePurgeProtection": False}},
    ),
    "keyvault-firewall": (
        r.VAULT,
        {"properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"}}},
        {"properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "None"}}},
    ),
    "acr-admin-user-off": (r.REGISTRY, {"adminUserEnabled": False}, {"adminUserEnabled": True}),
    "acr-anonymous-pull-off": (
        r.REGISTRY, {"anonymousPullEnabled": False}, {"anonymousPullEnabled": True}
    ),
    "ml-workspace-managed-identity": (
        r.ML_WORKSPACE, {"identity": {"type": "SystemAssigned"}}, {"identity": {"type": "None"}}
    ),
    "ml-workspace-public-access-explicit": (
        r.ML_WORKSPACE, {"publicNetworkAccess": "Enabled"}, {}
    ),
    "ml-workspace-private": (
        r.ML_WORKSPACE, {"publicNetworkAccess": "Disabled"}, {"publicNetworkAccess": "Enabled"}
    ),
    "ml-endpoint-auth-required": (
        r.ML_ENDPOINT, {"properties": {"authMode": "Key"}}, {"properties": {"authMode": "None"}}
    ),
    "ml-deployment-probes": (
        r.ML_DEPLOYMENT,
        {"properties": {"livenessProbe": {"period": "PT10S"}, "readinessProbe": {"period": "PT10S"}}},
        {"properties": {"livenessProbe": {"period": "PT10S"}}},
    ),
    "ml-deployment-app-insights": (
        r.ML_DEPLOYMENT,
        {"properties": {"appInsightsEnabled": True}},
        {"properties": {"appInsightsEnabled": False}},
    ),
    "ml-compute-local-auth-off": (
        r.ML_COMPUTE, {"properties": {"disableLocalAuth": True}}, {"properties": {}}
    ),
    "aci-secrets-secure-values": (
        r.CONTAINER_GROUP,
        {"containers": [{"environmentVariables": [
            {"name": "WORKER_COUNT", "value": "1"},
            {"name": "CHURN_REQUIRE_KEY", "value": "true"},
            {"name": "CHURN_SCORING_KEY", "secureValue": "s3cret"},
        ]}]},
        {"containers": [{"environmentVariables": [{"name": "DB_CONNECTION_STRING", "value": "x=y"}]}]},
    ),
    "aci-identity-pulls": (
        r.CONTAINER_GROUP,
        {
            "identity": {"type": "UserAssigned"},
            "imageRegistryCredentials": [{"server": "acr.io", "identity": "/ids/pull"}],
        },
        {
            "identity": {"type": "UserAssigned"},
            "imageRegistryCredentials": [
                {"server": "acr.io", "username": "admin", "password": "s3cret"}
            ],
        },
    ),
    "aci-probes": (
        r.CONTAINER_GROUP,
        {"containers": [{"name": "s", "livenessProbe": PROBE, "readinessProbe": PROBE}]},
        {"containers": [{"name": "s", "livenessProbe": PROBE}]},
    ),
    "aks-rbac": (r.CLUSTER, {"enableRBAC": True}, {"enableRBAC": False}),
    "aks-managed-identity": (
        r.CLUSTER,
        {"identity": {"type": "SystemAssigned"}},
        {"servicePrincipalProfile": {"clientId": "x", "secret": "s3cret"}},
    ),
    "aks-autoscaling": (
        r.CLUSTER,
        {"agentPoolProfiles": [
            {"name": "system", "enableAutoScaling": True, "minCount": 2, "maxCount": 4}
        ]},
        {"agentPoolProfiles": [{"name": "system", "count": 3}]},
    ),
    "aks-network-policy": (
        r.CLUSTER, {"networkProfile": {"networkPolicy": "azure"}}, {"networkProfile": {}}
    ),
    "appinsights-workspace-based": (
        r.APP_INSIGHTS,
        {"workspaceResourceId": "/subscriptions/s/logs", "ingestionMode": "LogAnalytics"},
        {"ingestionMode": "ApplicationInsights"},
    ),
    "log-retention-90-days": (r.LOG_WORKSPACE, {"retentionInDays": 90}, {"retentionInDays": 30}),
    "ml-versions-no-owner-tag": (
        r.ML_MODEL,
        {"properties": {"tags": {"project": "churn-scoring", "stack": "prod", "sha256": "ab"}}},
        {"properties": {"tags": TAGS}},
    ),
    "tags-required": (r.STORAGE_ACCOUNT, {"tags": TAGS}, {"tags": {"project": "churn-scoring"}}),
    "stateful-resources-protected": (r.VAULT, {}, {}),
    "images-pinned-by-digest": (
        r.CONTAINER_GROUP,
        {"containers": [{"image": f"acr.io/churn-scoring:abc{DIGEST}"}]},
        {"containers": [{"image": "acr.io/churn-scoring:latest"}]},
    ),
    "public-endpoints-tls": (
        r.CONTAINER_GROUP,
        {"ipAddress": {"type": "Public", "ports": [{"port": 443, "protocol": "TCP"}]}},
        {"ipAddress": {"type": "Public", "ports": [{"port": 5001, "protocol": "TCP"}]}},
    ),
}  # fmt: skip
PROTECTED = {"stateful-resources-protected"}  # the good case is protected, the bad one not


def by_name(name: str) -> r.Rule:
    return next(rule for rule in RULES if rule.name == name)


def test_at_least_twenty_rules_with_unique_names_and_both_levels():
    names = [rule.name for rule in RULES]
    assert len(names) >= 20
    assert len(set(names)) == len(names)
    assert {rule.mandatory for rule in RULES} == {True, False}
    assert all(rule.description and rule.source for rule in RULES)


def test_every_rule_has_a_good_and_a_bad_case():
    assert set(CASES) == {rule.name for rule in RULES}


@pytest.mark.parametrize("name", sorted(CASES))
def test_good_resource_passes(name):
    kind, good, _ = CASES[name]
    rule = by_name(name)
    assert rule.applies_to(kind)
    assert rule.check(Resource(kind, good, protect=name in PROTECTED)) is None


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_resource_fails_with_a_sentence(name):
    kind, _, bad = CASES[name]
    message = by_name(name).check(Resource(kind, bad, protect=False))
    assert isinstance(message, str) and len(message.split()) >= 3


@pytest.mark.parametrize(
    ("kind", "props", "expected"),
    [
        (r.ML_ENVIRONMENT, {"properties": {"image": "mcr.microsoft.com/azureml/x"}}, "`latest`"),
        (r.ML_ENVIRONMENT, {"properties": {"image": "mcr.microsoft.com/azureml/x:1.0"}}, "a tag"),
        (r.ML_ENVIRONMENT, {"properties": {"image": f"mcr.microsoft.com/a/x:1{DIGEST}"}}, None),
        (r.ML_MODEL, {"properties": {"tags": TAGS}}, None),
        (r.ML_MODEL, {"tags": TAGS, "properties": {}}, "missing tag(s) project, stack"),
        (r.ML_MODEL_CONTAINER, {"properties": {}}, "missing tag(s) project, stack, owner"),
    ],
)
def test_rules_that_read_several_shapes(kind, props, expected):
    rule = by_name("images-pinned-by-digest" if kind == r.ML_ENVIRONMENT else "tags-required")
    message = rule.check(Resource(kind, props))
    assert message == expected or (expected and expected in message)


def test_rules_read_pulumi_policy_proxies():
    """In a real preview the pack sees read-only Mapping/Sequence proxies, not dicts/lists."""
    from pulumi_policy.proxy import unknown_checking_proxy

    kind, good, bad = CASES["aci-secrets-secure-values"]
    rule = by_name("aci-secrets-secure-values")
    assert rule.check(Resource(kind, unknown_checking_proxy(good))) is None
    assert rule.check(Resource(kind, unknown_checking_proxy(bad))) is not None


def sdk_class(token: str) -> type:
    provider, module, name = token.split(":")
    assert provider == "azure-native"
    return getattr(importlib.import_module(f"pulumi_azure_native.{module}"), name)


@pytest.mark.parametrize("token", sorted({t for rule in RULES for t in rule.types}))
def test_type_tokens_are_azure_native_v3_resources(token):
    assert get_type_token(sdk_class(token)) == token


@pytest.mark.parametrize("token", r.TAGGED)
def test_tagged_types_take_tags(token):
    args = getattr(
        importlib.import_module(sdk_class(token).__module__), f"{token.split(':')[2]}Args"
    )
    assert hasattr(args, "tags")


@pytest.mark.parametrize(
    ("name", "value", "flagged"),
    [
        ("API_TOKEN", "abc", True),
        ("STORAGE_ACCOUNT_KEY", "abc==", True),
        ("DB_CONNECTION_STRING", "Server=x", True),
        ("CHURN_REQUIRE_KEY", "false", False),
        ("WORKER_COUNT", "2", False),
        ("KEYBOARD_LAYOUT", "fr", False),
    ],
)
def test_secret_like_variables(name, value, flagged):
    props = {"containers": [{"environmentVariables": [{"name": name, "value": value}]}]}
    message = r.aci_secure_values(Resource(r.CONTAINER_GROUP, props))
    assert (message is not None) == flagged


# Advice that this design cannot follow without breaking its own deploy: the Blob uploads and the
# AzureML datastore use the storage account key; AzureML's Kubernetes extension needs the
# cluster's local accounts; Kubernetes online endpoints have no Entra ID token auth.
BREAKS_THE_DEPLOY = {
    "storage-shared-key-off": (r.STORAGE_ACCOUNT, {}, "allowSharedKeyAccess"),
    "aks-local-accounts-off": (r.CLUSTER, {}, "disableLocalAccounts"),
    "ml-endpoint-token-auth": (r.ML_ENDPOINT, {"properties": {"compute": "/c/aks"}}, "AADToken"),
}


@pytest.mark.parametrize("name", sorted(BREAKS_THE_DEPLOY))
def test_no_rule_points_at_a_change_that_breaks_the_deploy(name):
    kind, props, word = BREAKS_THE_DEPLOY[name]
    assert name not in {rule.name for rule in RULES}
    for rule in RULES:
        if rule.applies_to(kind):
            assert word not in (rule.check(Resource(kind, props)) or ""), rule.name


def test_a_kubernetes_endpoint_may_not_ask_for_entra_tokens_but_a_managed_one_may():
    check = by_name("ml-endpoint-auth-required").check
    assert check(Resource(r.ML_ENDPOINT, {"properties": {"authMode": "AADToken"}})) is None
    k8s = {"authMode": "Key", "compute": "/computes/aks"}
    assert check(Resource(r.ML_ENDPOINT, {"properties": k8s})) is None
    assert check(Resource(r.ML_ENDPOINT, {"properties": {**k8s, "authMode": "AADToken"}}))


@pytest.mark.parametrize("compute", [None, "/computes/aks"])
@pytest.mark.parametrize("mode", [None, "None", "AADToken"])
def test_an_endpoint_auth_fault_is_reported_once(compute, mode):
    props = {"tags": TAGS, "properties": {"authMode": mode, "compute": compute}}
    endpoint = Resource(r.ML_ENDPOINT, props)
    found = [rule.name for rule in RULES if rule.applies_to(r.ML_ENDPOINT) and rule.check(endpoint)]
    assert len(found) == (0 if (mode, compute) == ("AADToken", None) else 1), found


def test_the_owner_tag_rule_is_advice_with_its_true_reason():
    rule = by_name("ml-versions-no-owner-tag")
    assert not rule.mandatory
    message = rule.check(Resource(r.ML_MODEL, {"properties": {"tags": TAGS}})) or ""
    assert "stale" in message and "immutable" not in message + rule.description


def test_the_vault_firewall_advice_keeps_the_trusted_services_bypass():
    check = by_name("keyvault-firewall").check
    advice = check(Resource(r.VAULT, {"properties": {}}))
    assert advice and "AzureServices" in advice
    deny_only = {"properties": {"networkAcls": {"defaultAction": "Deny"}}}
    assert "AzureServices" in (check(Resource(r.VAULT, deny_only)) or "")
