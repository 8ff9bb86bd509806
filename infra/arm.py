"""Microsoft Entra access tokens for Azure Resource Manager, for the steps that call Azure
themselves (the registry token exchange, the endpoint's traffic).

In GitHub Actions (`ARM_USE_OIDC` set, as the workflows do for the azure-native provider) the
credential signs in with a GitHub OIDC token fetched afresh for every Entra token it requests.
`az login --federated-token` cannot do that: the CLI keeps the one assertion it was given, which
expires after about ten minutes (Azure/azure-cli#28708), while these steps run late in a long
`pulumi up`. Elsewhere it is `DefaultAzureCredential` (`az login`, a managed identity or
environment variables).
"""

import os
from collections.abc import Callable, Mapping
from typing import Any

import requests

ARM = "https://management.azure.com"
ARM_SCOPE = f"{ARM}/.default"
# The audience Entra expects of a federated credential's assertion.
OIDC_AUDIENCE = "api://AzureADTokenExchange"
TIMEOUT_S = 30

# Where GitHub Actions publishes its token endpoint to a job with `id-token: write`; the ARM_OIDC_*
# names are the azure-native provider's own overrides of the same two values.
REQUEST_URL = ("ARM_OIDC_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_URL")
REQUEST_TOKEN = ("ARM_OIDC_REQUEST_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")


class CredentialError(RuntimeError):
    pass


GITHUB_HINT = "run in a GitHub Actions job with `permissions: id-token: write`"
IDENTITY_HINT = "set it to the identity's tenant and client ids, as the workflows do"


def _first(env: Mapping[str, str], names: tuple[str, ...], hint: str) -> str:
    for name in names:
        if env.get(name):
            return env[name]
    raise CredentialError(
        f"ARM_USE_OIDC is set but {' / '.join(names)} is not: {hint} "
        "(or unset ARM_USE_OIDC to use `az login`)"
    )


def uses_oidc(env: Mapping[str, str] = os.environ) -> bool:
    return env.get("ARM_USE_OIDC", "").lower() in ("1", "true", "yes")


def github_assertion(env: Mapping[str, str] = os.environ) -> Callable[[], str]:
    """A function returning a new GitHub OIDC token (audience `api://AzureADTokenExchange`) at
    each call; the endpoint and its bearer token are read once, up front."""
    url = _first(env, REQUEST_URL, GITHUB_HINT)
    bearer = _first(env, REQUEST_TOKEN, GITHUB_HINT)

    def fetch() -> str:
        try:
            response = requests.get(
                url,
                params={"audience": OIDC_AUDIENCE},
                headers={"Authorization": f"Bearer {bearer}", "Accept": "application/json"},
                timeout=TIMEOUT_S,
            )
        except requests.RequestException as exc:
            raise CredentialError(f"cannot reach the GitHub OIDC token endpoint: {exc}") from exc
        if response.status_code != 200:
            raise CredentialError(
                f"the GitHub OIDC token endpoint answered {response.status_code}: "
                f"{response.text[:200]}"
            )
        try:
            value = response.json()["value"]
        except (ValueError, KeyError, TypeError):
            value = None
        if not isinstance(value, str) or not value:
            raise CredentialError("the GitHub OIDC token endpoint answered without a token value")
        return value

    return fetch


def default_credential(env: Mapping[str, str] = os.environ, **kwargs: Any) -> Any:
    """The credential `arm_token` uses when none is given (see the module docstring); `kwargs`
    go to azure-identity (tests point `authority` at a local stand-in)."""
    from azure.identity import ClientAssertionCredential, DefaultAzureCredential

    if not uses_oidc(env):
        return DefaultAzureCredential(**kwargs)
    tenant = _first(env, ("ARM_TENANT_ID", "AZURE_TENANT_ID"), IDENTITY_HINT)
    client = _first(env, ("ARM_CLIENT_ID", "AZURE_CLIENT_ID"), IDENTITY_HINT)
    return ClientAssertionCredential(tenant, client, github_assertion(env), **kwargs)


def arm_token(credential: Any = None) -> str:
    """A token for ARM from `credential`, by default `default_credential()`, resolved at call
    time so that nothing secret is pickled with a dynamic provider."""
    return (credential or default_credential()).get_token(ARM_SCOPE).token
