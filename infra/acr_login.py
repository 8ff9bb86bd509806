"""A registry password for pushing the scoring image while the registry's admin user stays off.

Exchanges the deployer's Microsoft Entra token (`azure-identity`, as `az login` left it) for an
Azure Container Registry refresh token, which `docker login` accepts as the password of the
fixed user below. Nothing is stored: the exchange runs on each `pulumi up`, and pulumi-docker-build
ignores password changes when diffing.
"""

import requests

from .arm import arm_token

USERNAME = "00000000-0000-0000-0000-000000000000"
TIMEOUT_S = 30


def refresh_token(login_server: str, scheme: str = "https", credential=None) -> str:
    access = arm_token(credential)
    response = requests.post(
        f"{scheme}://{login_server}/oauth2/exchange",
        data={"grant_type": "access_token", "service": login_server, "access_token": access},
        timeout=TIMEOUT_S,
    )
    if response.status_code != 200:
        raise RuntimeError(
            f"{login_server} refused the token exchange ({response.status_code}): "
            f"{response.text[:200]}"
        )
    return response.json()["refresh_token"]
