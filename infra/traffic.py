"""Routes an AzureML online endpoint's traffic once its deployment exists.

An endpoint's `traffic` may only name deployments that already exist, and the deployment needs
the endpoint first. So the endpoint is declared without traffic, the deployment after it, and this
resource last: it reads the endpoint through the ARM REST API, sets `properties.traffic` and PUTs
it back (the documented way; the endpoint's PATCH only carries identity and tags), then waits for
the long-running operation. Deleting it sets traffic back to nothing, which lets the deployment be
deleted. Credentials come from `azure-identity` (`az login`, a managed identity or environment
variables), resolved at call time so nothing secret is pickled into the state.
"""

import time
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import requests
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from .arm import ARM, arm_token

API_VERSION = "2025-12-01"
TIMEOUT_S = 60
# Fields ARM computes; sending them back in a PUT is refused or ignored.
READ_ONLY = {"provisioningState", "scoringUri", "swaggerUri", "openapiUri"}

TokenSource = Callable[[], str]


class TrafficError(RuntimeError):
    pass


class TrafficProvider(ResourceProvider):
    """`arm`, `token` and `poll_s` are injectable so tests can run it against a local server."""

    serialize_as_secret_always = False

    def __init__(
        self, arm: str = ARM, token: TokenSource | None = None, poll_s: float = 10.0
    ) -> None:
        super().__init__()
        self.arm = arm.rstrip("/")
        self.token = token
        self.poll_s = poll_s

    # -- REST -------------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        session = requests.Session()
        token = (self.token or arm_token)()
        session.headers["Authorization"] = f"Bearer {token}"
        return session

    def _url(self, endpoint_id: str) -> str:
        return f"{self.arm}{endpoint_id}?api-version={API_VERSION}"

    def _wait(self, session: requests.Session, response: requests.Response) -> None:
        """Follows the Azure-AsyncOperation (or Location) header until the operation ends."""
        monitor = response.headers.get("Azure-AsyncOperation") or response.headers.get("Location")
        while monitor:
            poll = session.get(monitor, timeout=TIMEOUT_S)
            if poll.status_code == 202:
                time.sleep(self.poll_s)
                continue
            if poll.status_code >= 400:
                raise TrafficError(f"polling {monitor} failed ({poll.status_code}): {poll.text}")
            status = poll.json().get("status", "Succeeded")
            if status == "Succeeded":
                return
            if status in ("Failed", "Canceled"):
                raise TrafficError(f"setting traffic ended {status}: {poll.text[:500]}")
            time.sleep(self.poll_s)

    def set_traffic(self, endpoint_id: str, traffic: Mapping[str, int]) -> bool:
        """Returns False when the endpoint no longer exists."""
        session = self._session()
        current = session.get(self._url(endpoint_id), timeout=TIMEOUT_S)
        if current.status_code == 404:
            return False
        if current.status_code != 200:
            raise TrafficError(f"reading {endpoint_id} failed ({current.status_code})")
        body = current.json()
        props = {k: v for k, v in body["properties"].items() if k not in READ_ONLY}
        props["traffic"] = dict(traffic)
        update: dict[str, Any] = {"location": body["location"], "properties": props}
        for key in ("kind", "tags", "sku"):
            if key in body:
                update[key] = body[key]
        if "identity" in body:
            identity = body["identity"]
            update["identity"] = {
                k: v for k, v in identity.items() if k in ("type", "userAssignedIdentities")
            }
        response = session.put(self._url(endpoint_id), json=update, timeout=TIMEOUT_S)
        if response.status_code not in (200, 201, 202):
            raise TrafficError(
                f"setting traffic on {endpoint_id} failed ({response.status_code}): "
                f"{response.text[:500]}"
            )
        self._wait(session, response)
        return True

    # -- Pulumi -----------------------------------------------------------------------------
    def create(self, props: dict[str, Any]) -> CreateResult:
        if not self.set_traffic(props["endpoint_id"], props["traffic"]):
            raise TrafficError(f"endpoint {props['endpoint_id']} does not exist")
        return CreateResult(id_=f"{props['endpoint_id']}/traffic", outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = ("endpoint_id", "traffic", "revision")
        changed = [k for k in keys if olds.get(k) != news.get(k)]
        return DiffResult(
            changes=bool(changed),
            replaces=["endpoint_id"] if "endpoint_id" in changed else [],
            delete_before_replace=True,
        )

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if not self.set_traffic(news["endpoint_id"], news["traffic"]):
            raise TrafficError(f"endpoint {news['endpoint_id']} does not exist")
        return UpdateResult(outs=news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        self.set_traffic(props["endpoint_id"], {})


class EndpointTraffic(pulumi.dynamic.Resource, module="churn", name="EndpointTraffic"):
    """`revision` changes whenever the endpoint's own settings do, so an endpoint update (a PUT
    that would drop the traffic it does not declare) is always followed by this one."""

    endpoint_id: pulumi.Output[str]
    traffic: pulumi.Output[dict[str, int]]

    def __init__(
        self,
        name: str,
        endpoint_id: pulumi.Input[str],
        traffic: pulumi.Input[Mapping[str, pulumi.Input[int]]],
        revision: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
        provider: TrafficProvider | None = None,
    ) -> None:
        super().__init__(
            provider or TrafficProvider(),
            name,
            {"endpoint_id": endpoint_id, "traffic": traffic, "revision": revision},
            opts,
        )
