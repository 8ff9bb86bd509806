"""Routes an AzureML online endpoint's traffic once its deployment exists.

An endpoint's `traffic` may only name deployments that already exist, and the deployment needs
the endpoint first. So the endpoint is declared without traffic, the deployment after it, and this
resource last: it reads the endpoint through the ARM REST API, sets `properties.traffic` and PUTs
it back (the documented way; the endpoint's PATCH only carries identity and tags), then waits for
the long-running operation, within an overall deadline. Before it does, every deployment the split
names must exist and every one given a share must have provisioned. Deleting it sets traffic back
to nothing, which lets the deployments be deleted; a deployment dropped from the split loses its
traffic in the update phase, before Pulumi deletes it at the end of the run. Credentials come from `azure-identity` (`az login`, a managed identity or environment
variables), resolved at call time so nothing secret is pickled into the state.
"""

import time
from collections.abc import Mapping
from typing import Any

import pulumi
import requests
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from .arm import ARM
from .armrest import TIMEOUT_S, ArmClient, ArmError, TokenSource, body_of

API_VERSION = "2025-12-01"
# Fields ARM computes; sending them back in a PUT is refused or ignored.
READ_ONLY = {"provisioningState", "scoringUri", "swaggerUri", "openapiUri"}
# A deployment still on its way may be waited for; one that failed or is going away may not.
SETTLING = {"Creating", "Updating", "Scaling"}


class TrafficError(ArmError):
    pass


class TrafficProvider(ResourceProvider, ArmClient):
    """Never routes to a deployment that is not ready: every deployment the split names must
    exist, and one that gets a share must have provisioned (`Succeeded`); one still settling is
    waited for within the deadline. Every wait is bounded by `deadline_s`."""

    serialize_as_secret_always = False
    error = TrafficError

    def __init__(
        self,
        arm: str = ARM,
        token: TokenSource | None = None,
        poll_s: float = 10.0,
        deadline_s: float = 1800.0,
    ) -> None:
        ResourceProvider.__init__(self)
        ArmClient.__init__(self, arm, token, poll_s, deadline_s)

    # -- REST -------------------------------------------------------------------------------
    def _url(self, endpoint_id: str, path: str = "") -> str:
        return self.url(endpoint_id + path, API_VERSION)

    def _check_ready(
        self, session: requests.Session, endpoint_id: str, traffic: Mapping[str, int]
    ) -> None:
        deadline = None
        for name, share in sorted(traffic.items()):
            while True:
                answer = session.get(
                    self._url(endpoint_id, f"/deployments/{name}"), timeout=TIMEOUT_S
                )
                if answer.status_code == 404:
                    raise TrafficError(f"traffic names deployment {name}, which does not exist")
                if answer.status_code != 200:
                    raise TrafficError(f"reading deployment {name} failed ({answer.status_code})")
                body = body_of(answer) or {}
                state = (body.get("properties") or {}).get("provisioningState", "")
                if state == "Succeeded" or (share == 0 and state in SETTLING):
                    break
                if state not in SETTLING:
                    raise TrafficError(
                        f"deployment {name} is {state or 'in no known state'}: "
                        f"refusing to give it {share}% of the traffic"
                    )
                deadline = deadline or time.monotonic() + self.deadline_s
                self.pause(deadline, f"deployment {name} becoming ready")

    def set_traffic(self, endpoint_id: str, traffic: Mapping[str, int]) -> bool:
        """Returns False when the endpoint no longer exists."""
        session = self.session()
        current = session.get(self._url(endpoint_id), timeout=TIMEOUT_S)
        if current.status_code == 404:
            return False
        body = body_of(current) if current.status_code == 200 else None
        if not isinstance(body, dict) or "properties" not in body:
            raise TrafficError(
                f"reading {endpoint_id} failed ({current.status_code}): {current.text[:500]!r}"
            )
        self._check_ready(session, endpoint_id, traffic)
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
        self.wait(session, response, "setting traffic")
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
