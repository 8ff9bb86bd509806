"""Microsoft Entra access tokens for Azure Resource Manager, for the steps that call Azure
themselves (the registry token exchange, the endpoint's traffic)."""

from typing import Any

ARM = "https://management.azure.com"
ARM_SCOPE = f"{ARM}/.default"


def arm_token(credential: Any = None) -> str:
    """A token for ARM from `credential`, by default `azure-identity`'s DefaultAzureCredential
    (`az login`, a managed identity or environment variables), resolved at call time so that
    nothing secret is pickled with a dynamic provider."""
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    return credential.get_token(ARM_SCOPE).token
