"""The registry token exchange against a local stand-in for the registry (127.0.0.1, free port)."""

from types import SimpleNamespace
from urllib.parse import parse_qs

import pytest

from infra import acr_login
from infra.arm import ARM_SCOPE
from tests.stubhttp import StubHandler, stub_server


class FakeCredential:
    def get_token(self, scope: str):
        assert scope == ARM_SCOPE
        return SimpleNamespace(token="entra-token")


@pytest.fixture
def registry():
    seen: list[dict] = []

    class Handler(StubHandler):
        def do_POST(self) -> None:
            form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            seen.append({k: v[0] for k, v in form.items()})
            ok = self.path == "/oauth2/exchange" and form.get("access_token") == ["entra-token"]
            body = {"refresh_token": "acr-refresh"} if ok else {"errors": "denied"}
            self.send_json(200 if ok else 401, body)

    with stub_server(Handler) as url:
        yield url.removeprefix("http://"), seen


def test_exchanges_the_entra_token_for_a_registry_refresh_token(registry):
    server, seen = registry
    token = acr_login.refresh_token(server, scheme="http", credential=FakeCredential())
    assert token == "acr-refresh"
    assert seen == [
        {"grant_type": "access_token", "service": server, "access_token": "entra-token"}
    ]


def test_a_refusal_names_the_registry_and_status(registry):
    server, _ = registry

    class Wrong(FakeCredential):
        def get_token(self, scope: str):
            return SimpleNamespace(token="other")

    with pytest.raises(RuntimeError, match=f"{server} refused the token exchange \\(401\\)"):
        acr_login.refresh_token(server, scheme="http", credential=Wrong())
