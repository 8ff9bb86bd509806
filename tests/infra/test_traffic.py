"""The traffic provider against a local stand-in for the ARM REST API (127.0.0.1, free port)."""

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from infra.testing import ROOT
from infra.traffic import API_VERSION, TrafficError, TrafficProvider
from tests.stubhttp import StubHandler, stub_server

ENDPOINT = (
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices"
    "/workspaces/ws/onlineEndpoints/churn-endpoint"
)
TOKEN = "test-token"


class FakeArm:
    """One online endpoint and its deployments; PUT answers 201 and a long-running operation
    polled twice. `deployment_states[name]` is a list of provisioning states, one per GET (the
    last one repeats)."""

    def __init__(self) -> None:
        self.endpoint: dict | None = {
            "id": ENDPOINT,
            "name": "churn-endpoint",
            "location": "westeurope",
            "kind": "Kubernetes",
            "tags": {"stack": "prod"},
            "identity": {"type": "SystemAssigned", "principalId": "p", "tenantId": "t"},
            "systemData": {"createdBy": "someone"},
            "properties": {
                "authMode": "Key",
                "compute": "/compute/aks-inference",
                "traffic": {},
                "provisioningState": "Succeeded",
                "scoringUri": "http://20.0.0.10/api/v1/endpoint/churn-endpoint/score",
                "swaggerUri": "http://20.0.0.10/api/v1/endpoint/churn-endpoint/swagger.json",
            },
        }
        self.deployment_states: dict[str, list[str]] = {
            "blue": ["Succeeded"],
            "green": ["Succeeded"],
            "ghost": ["Succeeded"],
        }
        self.empty_operation_body = False
        self.empty_endpoint_body = False
        self.operation_never_ends = False
        self.puts: list[dict] = []
        self.requests: list[tuple[str, str, str | None]] = []
        self.polls_left = 0
        self.outcome = "Succeeded"
        self.put_status = 201


@pytest.fixture
def arm() -> Iterator[tuple[FakeArm, str]]:
    state = FakeArm()

    class Handler(StubHandler):
        def _send(self, status: int, body: dict | None = None, headers: dict | None = None):
            self.send_json(status, body or {}, headers)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            state.requests.append(("GET", url.path, self.headers.get("Authorization")))
            if url.path == "/operations/1":
                if state.polls_left > 0 or state.operation_never_ends:
                    state.polls_left -= 1
                    return self._send(200, {"status": "InProgress"})
                if state.empty_operation_body:
                    return self.send_json(204, "")
                return self._send(200, {"status": state.outcome, "error": {"code": "Boom"}})
            assert parse_qs(url.query)["api-version"] == [API_VERSION]
            prefix = f"{ENDPOINT}/deployments/"
            if url.path.startswith(prefix):
                states = state.deployment_states.get(url.path.removeprefix(prefix))
                if not states:
                    return self._send(404, {"error": {"code": "NotFound"}})
                current = states.pop(0) if len(states) > 1 else states[0]
                return self._send(200, {"properties": {"provisioningState": current}})
            if url.path != ENDPOINT or state.endpoint is None:
                return self._send(404, {"error": {"code": "NotFound"}})
            if state.empty_endpoint_body:
                return self.send_json(200, "")
            return self._send(200, state.endpoint)

        def do_PUT(self) -> None:
            url = urlparse(self.path)
            state.requests.append(("PUT", url.path, self.headers.get("Authorization")))
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.puts.append(body)
            if state.put_status >= 400:
                return self._send(state.put_status, {"error": {"message": "traffic refused"}})
            assert state.endpoint is not None
            state.endpoint["properties"]["traffic"] = body["properties"]["traffic"]
            state.polls_left = 1
            async_url = f"http://127.0.0.1:{self.server.server_address[1]}/operations/1"
            return self._send(state.put_status, body, {"Azure-AsyncOperation": async_url})

    with stub_server(Handler) as url:
        yield state, url


def provider(base: str, deadline_s: float = 30) -> TrafficProvider:
    return TrafficProvider(arm=base, token=lambda: TOKEN, poll_s=0, deadline_s=deadline_s)


def puts_after_gets_of(state: FakeArm, name: str) -> bool:
    """Whether the endpoint's PUT came after every read of deployment `name`."""
    calls = [(m, p) for m, p, _ in state.requests]
    put = calls.index(("PUT", ENDPOINT))
    reads = [i for i, c in enumerate(calls) if c == ("GET", f"{ENDPOINT}/deployments/{name}")]
    return bool(reads) and max(reads) < put


def test_create_routes_all_traffic_after_the_operation_succeeds(arm):
    state, base = arm
    result = provider(base).create({"endpoint_id": ENDPOINT, "traffic": {"blue": 100}})
    assert result.id == f"{ENDPOINT}/traffic"
    assert state.endpoint["properties"]["traffic"] == {"blue": 100}
    sent = state.puts[-1]
    # What ARM computes is not sent back; what the endpoint declares is kept.
    assert not {"provisioningState", "scoringUri", "swaggerUri"} & set(sent["properties"])
    assert sent["properties"]["authMode"] == "Key"
    assert sent["identity"] == {"type": "SystemAssigned"}
    assert "systemData" not in sent and sent["location"] == "westeurope"
    # Every call carried the bearer token; the operation was polled until it ended.
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth in state.requests)
    assert [p for m, p, _ in state.requests if m == "GET"].count("/operations/1") == 2


def test_update_changes_the_split(arm):
    state, base = arm
    p = provider(base)
    p.create({"endpoint_id": ENDPOINT, "traffic": {"blue": 100}})
    p.update("id", {}, {"endpoint_id": ENDPOINT, "traffic": {"blue": 90, "green": 10}})
    assert state.endpoint["properties"]["traffic"] == {"blue": 90, "green": 10}


def test_delete_drains_traffic_so_the_deployment_can_go(arm):
    state, base = arm
    p = provider(base)
    p.create({"endpoint_id": ENDPOINT, "traffic": {"blue": 100}})
    p.delete("id", {"endpoint_id": ENDPOINT, "traffic": {"blue": 100}})
    assert state.endpoint["properties"]["traffic"] == {}


def test_delete_of_a_vanished_endpoint_succeeds(arm):
    state, base = arm
    state.endpoint = None
    provider(base).delete("id", {"endpoint_id": ENDPOINT, "traffic": {"blue": 100}})
    assert state.puts == []


def test_create_on_a_missing_endpoint_fails_loudly(arm):
    state, base = arm
    state.endpoint = None
    with pytest.raises(TrafficError, match="does not exist"):
        provider(base).create({"endpoint_id": ENDPOINT, "traffic": {"blue": 100}})


def test_a_failed_operation_is_an_error(arm):
    state, base = arm
    state.outcome = "Failed"
    with pytest.raises(TrafficError, match="Failed"):
        provider(base).create({"endpoint_id": ENDPOINT, "traffic": {"blue": 100}})


def test_a_refused_put_is_an_error_with_the_answer(arm):
    state, base = arm
    state.put_status = 400
    with pytest.raises(TrafficError, match="400.*traffic refused"):
        provider(base).create({"endpoint_id": ENDPOINT, "traffic": {"ghost": 100}})


def test_diff_updates_on_traffic_or_revision_and_replaces_on_another_endpoint():
    p = TrafficProvider()
    old = {"endpoint_id": ENDPOINT, "traffic": {"blue": 100}, "revision": "a"}
    assert not p.diff("id", old, dict(old)).changes
    assert p.diff("id", old, old | {"traffic": {"blue": 50, "green": 50}}).changes
    assert p.diff("id", old, old | {"revision": "b"}).changes
    moved = p.diff("id", old, old | {"endpoint_id": ENDPOINT + "2"})
    assert moved.changes and moved.replaces == ["endpoint_id"]


def test_the_provider_survives_the_trip_to_the_dynamic_provider_host():
    """Pulumi pickles the provider into the state and a separate Python process, started in the
    project directory, unpickles it; nothing secret travels with it."""
    blob = serialize_provider(TrafficProvider())
    assert b"Bearer" not in base64.b64decode(blob)
    host = (
        "import base64, sys, dill\n"
        "provider = dill.loads(base64.b64decode(sys.stdin.read()))\n"
        "old = {'endpoint_id': 'e', 'traffic': {'blue': 100}, 'revision': 'a'}\n"
        "print(type(provider).__name__, provider.arm, provider.diff('id', old, old).changes)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", host],
        check=False,
        input=blob,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["TrafficProvider", "https://management.azure.com", "False"]


# -- never to a deployment that is not ready, and never without an end ------------------------
def test_traffic_waits_for_a_deployment_still_being_created(arm):
    state, base = arm
    state.deployment_states["green"] = ["Creating", "Creating", "Succeeded"]
    provider(base).create({"endpoint_id": ENDPOINT, "traffic": {"blue": 90, "green": 10}})
    assert state.endpoint["properties"]["traffic"] == {"blue": 90, "green": 10}
    assert puts_after_gets_of(state, "green")
    assert state.deployment_states["green"] == ["Succeeded"], "read until it succeeded"


@pytest.mark.parametrize("status", ["Failed", "Deleting", "Canceled"])
def test_traffic_refuses_a_deployment_that_failed_or_is_going_away(arm, status):
    state, base = arm
    state.deployment_states["green"] = [status]
    with pytest.raises(TrafficError, match=f"green is {status}.*10%"):
        provider(base).create({"endpoint_id": ENDPOINT, "traffic": {"blue": 90, "green": 10}})
    assert state.puts == []


def test_traffic_refuses_a_deployment_that_does_not_exist(arm):
    state, base = arm
    del state.deployment_states["green"]
    with pytest.raises(TrafficError, match="green, which does not exist"):
        provider(base).create({"endpoint_id": ENDPOINT, "traffic": {"blue": 100, "green": 0}})
    assert state.puts == []


def test_a_deployment_kept_at_zero_may_still_be_settling(arm):
    state, base = arm
    state.deployment_states["green"] = ["Updating"]
    provider(base).create({"endpoint_id": ENDPOINT, "traffic": {"blue": 100, "green": 0}})
    assert state.endpoint["properties"]["traffic"] == {"blue": 100, "green": 0}


def test_a_deployment_that_never_becomes_ready_fails_at_the_deadline(arm):
    state, base = arm
    state.deployment_states["green"] = ["Creating"]
    with pytest.raises(TrafficError, match="green becoming ready did not finish within 0.2 s"):
        provider(base, deadline_s=0.2).create(
            {"endpoint_id": ENDPOINT, "traffic": {"blue": 90, "green": 10}}
        )
    assert state.puts == []


def test_an_operation_that_never_ends_fails_at_the_deadline(arm):
    state, base = arm
    state.operation_never_ends = True
    with pytest.raises(TrafficError, match="setting traffic did not finish within 0.2 s"):
        provider(base, deadline_s=0.2).create({"endpoint_id": ENDPOINT, "traffic": {"blue": 100}})


def test_an_operation_ending_with_an_empty_204_is_done(arm):
    state, base = arm
    state.empty_operation_body = True
    provider(base).create({"endpoint_id": ENDPOINT, "traffic": {"blue": 100}})
    assert state.endpoint["properties"]["traffic"] == {"blue": 100}


def test_an_endpoint_read_with_an_empty_body_is_a_clear_error(arm):
    state, base = arm
    state.empty_endpoint_body = True
    with pytest.raises(TrafficError, match="reading .*churn-endpoint failed \\(200\\)"):
        provider(base).create({"endpoint_id": ENDPOINT, "traffic": {"blue": 100}})
    assert state.puts == []
