"""The compute's teardown against a local stand-in for the ARM REST API (127.0.0.1, free port)."""

import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from infra.armrest import ArmError
from infra.detach import API_VERSION, ComputeDetachProvider
from infra.testing import ROOT
from tests.stubhttp import StubHandler, stub_server

COMPUTE = (
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices"
    "/workspaces/ws/computes/aks-inference"
)


class FakeArm:
    def __init__(self) -> None:
        self.exists = True
        self.deletes: list[dict[str, list[str]]] = []
        self.polls = 0
        self.status = 202


@pytest.fixture
def arm() -> Iterator[tuple[FakeArm, str]]:
    state = FakeArm()

    class Handler(StubHandler):
        def do_DELETE(self) -> None:
            url = urlparse(self.path)
            query = parse_qs(url.query)
            state.deletes.append(query)
            if url.path != COMPUTE or not state.exists:
                return self.send_json(404, {"error": {"code": "NotFound"}})
            if "underlyingResourceAction" not in query:
                return self.send_json(400, {"error": {"message": "underlyingResourceAction"}})
            state.exists = False
            monitor = f"http://127.0.0.1:{self.server.server_address[1]}/operations/9"
            return self.send_json(state.status, "", {"Location": monitor})

        def do_GET(self) -> None:
            state.polls += 1
            # The location URL: 202 while running, then 204 with no body at all.
            return self.send_json(202 if state.polls < 2 else 204, "")

    with stub_server(Handler) as url:
        yield state, url


def provider(base: str) -> ComputeDetachProvider:
    return ComputeDetachProvider(arm=base, token=lambda: "t", poll_s=0, deadline_s=5)


def test_destroy_detaches_and_never_deletes_the_cluster(arm):
    state, base = arm
    provider(base).delete("id", {"compute_id": COMPUTE})
    (query,) = state.deletes
    assert query["underlyingResourceAction"] == ["Detach"]
    assert query["api-version"] == [API_VERSION]
    assert state.polls == 2 and not state.exists


def test_a_compute_already_gone_counts_as_detached(arm):
    state, base = arm
    state.exists = False
    provider(base).delete("id", {"compute_id": COMPUTE})
    assert state.polls == 0


def test_a_refused_detach_is_an_error_with_the_answer(arm):
    state, base = arm
    state.status = 409
    with pytest.raises(ArmError, match="detaching .*aks-inference failed \\(409\\)"):
        provider(base).delete("id", {"compute_id": COMPUTE})


def test_create_calls_nothing_and_another_compute_replaces_detach_first():
    p = ComputeDetachProvider(token=lambda: pytest.fail("no call on create"))
    assert p.create({"compute_id": COMPUTE}).id == f"{COMPUTE}/detach"
    moved = p.diff("id", {"compute_id": COMPUTE}, {"compute_id": COMPUTE + "2"})
    assert moved.replaces == ["compute_id"] and moved.delete_before_replace
    assert not p.diff("id", {"compute_id": COMPUTE}, {"compute_id": COMPUTE}).changes


def test_the_provider_survives_the_trip_to_the_dynamic_provider_host():
    """Pulumi pickles the provider into the state and unpickles it in another process."""
    blob = serialize_provider(ComputeDetachProvider())
    host = (
        "import base64, sys, dill\n"
        "provider = dill.loads(base64.b64decode(sys.stdin.read()))\n"
        "print(type(provider).__name__, provider.arm, provider.deadline_s)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", host], check=False, input=blob, cwd=ROOT, capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ComputeDetachProvider", "https://management.azure.com", "900.0"]
