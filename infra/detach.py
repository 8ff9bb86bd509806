"""Detaches the Kubernetes compute from the workspace when it goes away.

The REST delete of a workspace compute requires the query parameter `underlyingResourceAction`
(`Delete` or `Detach`; Compute_Delete in azure-rest-api-specs, machinelearningservices). The
azure-native provider deletes resources with a plain DELETE of their id and api-version, which
this API refuses. So the `Compute` resource is declared with `retain_on_delete` (Pulumi forgets it
without calling Azure) and this resource, which depends on it, sends the DELETE with
`underlyingResourceAction=Detach` itself: the cluster stays for its own resource to delete, and a
compute that is already gone (404) counts as detached. Everything that uses the compute takes its
id from this resource, so endpoints and deployments are deleted before the detach runs.
"""

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider

from .arm import ARM
from .armrest import TIMEOUT_S, ArmClient, ArmError, TokenSource

API_VERSION = "2025-12-01"  # the provider's own version for machinelearningservices


class ComputeDetachProvider(ResourceProvider, ArmClient):
    serialize_as_secret_always = False

    def __init__(
        self,
        arm: str = ARM,
        token: TokenSource | None = None,
        poll_s: float = 10.0,
        deadline_s: float = 900.0,
    ) -> None:
        ResourceProvider.__init__(self)
        ArmClient.__init__(self, arm, token, poll_s, deadline_s)

    def detach(self, compute_id: str) -> None:
        session = self.session()
        url = self.url(compute_id, API_VERSION, underlyingResourceAction="Detach")
        response = session.delete(url, timeout=TIMEOUT_S)
        if response.status_code == 404:
            return
        if response.status_code not in (200, 202, 204):
            raise ArmError(
                f"detaching {compute_id} failed ({response.status_code}): {response.text[:500]}"
            )
        self.wait(session, response, f"detaching {compute_id}")

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"{props['compute_id']}/detach", outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        moved = olds.get("compute_id") != news.get("compute_id")
        return DiffResult(
            changes=moved, replaces=["compute_id"] if moved else [], delete_before_replace=True
        )

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        self.detach(props["compute_id"])


class ComputeDetach(pulumi.dynamic.Resource, module="churn", name="ComputeDetach"):
    compute_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        compute_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
        provider: ComputeDetachProvider | None = None,
    ) -> None:
        super().__init__(
            provider or ComputeDetachProvider(), name, {"compute_id": compute_id}, opts
        )
