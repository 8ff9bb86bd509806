"""CI sign-in: with ARM_USE_OIDC set, every Entra token is obtained with a GitHub OIDC token
fetched afresh, from local stand-ins for GitHub's token endpoint (HTTP) and for Microsoft Entra
(HTTPS with a throwaway certificate, since azure-identity only talks TLS to an authority)."""

import contextlib
import datetime
import ipaddress
import ssl
import threading
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from infra import arm
from tests.stubhttp import StubHandler, stub_server

TENANT = "00000000-0000-0000-0000-0000000000aa"
CLIENT = "00000000-0000-0000-0000-0000000000bb"


@pytest.fixture
def github():
    """GitHub's ID-token endpoint: a new token each call, only for the runner's bearer token."""
    calls: list[dict] = []

    class Handler(StubHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlparse(self.path).query)
            calls.append({"audience": query.get("audience"), "auth": self.headers["Authorization"]})
            if self.headers["Authorization"] != "Bearer runner-secret":
                self.send_json(401, {"message": "bad credentials"})
                return
            self.send_json(200, {"count": len(calls), "value": f"github-jwt-{len(calls)}"})

    with stub_server(Handler) as url:
        yield url + "/token?api-version=2.0", calls


@pytest.fixture
def entra(tmp_path):
    """Microsoft Entra's token endpoint on https://127.0.0.1 with a self-signed certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    assertions: list[dict] = []

    class Handler(StubHandler):
        def do_POST(self) -> None:
            form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            assertions.append({"path": self.path, **{k: v[0] for k, v in form.items()}})
            self.send_json(
                200,
                {
                    "token_type": "Bearer",
                    "expires_in": 3600,
                    "access_token": f"arm-token-{len(assertions)}",
                },
            )

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    with tls_server(Handler, context) as url:
        yield url, str(cert_path), assertions


@contextlib.contextmanager
def tls_server(handler, context: ssl.SSLContext):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def ci_env(github_url: str) -> dict[str, str]:
    return {
        "ARM_USE_OIDC": "true",
        "ARM_TENANT_ID": TENANT,
        "ARM_CLIENT_ID": CLIENT,
        "ACTIONS_ID_TOKEN_REQUEST_URL": github_url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runner-secret",
    }


def test_each_entra_token_is_bought_with_a_fresh_github_token(github, entra):
    github_url, github_calls = github
    authority, cert, assertions = entra
    credential = arm.default_credential(
        ci_env(github_url), authority=authority, connection_verify=cert
    )
    first = credential.get_token(arm.ARM_SCOPE).token
    # Another scope is not in the cache: the credential must sign in again, as it does once the
    # first token nears expiry, long after the first GitHub token has expired.
    second = credential.get_token("https://ml.azure.com/.default").token

    assert (first, second) == ("arm-token-1", "arm-token-2")
    assert [a["client_assertion"] for a in assertions] == ["github-jwt-1", "github-jwt-2"]
    for a in assertions:
        assert a["path"] == f"/{TENANT}/oauth2/v2.0/token"
        assert a["client_id"] == CLIENT
        assert a["grant_type"] == "client_credentials"
        assert a["client_assertion_type"].endswith("jwt-bearer")
    assert github_calls == [
        {"audience": [arm.OIDC_AUDIENCE], "auth": "Bearer runner-secret"},
        {"audience": [arm.OIDC_AUDIENCE], "auth": "Bearer runner-secret"},
    ]


def test_the_azure_native_provider_overrides_are_honoured(github):
    github_url, calls = github
    env = {
        "ARM_OIDC_REQUEST_URL": github_url,
        "ARM_OIDC_REQUEST_TOKEN": "runner-secret",
        "ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:9/unused",
    }
    assert arm.github_assertion(env)() == "github-jwt-1"
    assert len(calls) == 1


def test_without_oidc_the_developer_credentials_are_used(monkeypatch):
    from azure.identity import ClientAssertionCredential, DefaultAzureCredential

    assert isinstance(arm.default_credential({}), DefaultAzureCredential)
    assert not arm.uses_oidc({"ARM_USE_OIDC": "false"})
    github_env = ci_env("http://127.0.0.1:9/token")
    assert isinstance(arm.default_credential(github_env), ClientAssertionCredential)


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("ACTIONS_ID_TOKEN_REQUEST_URL", "id-token: write"),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "id-token: write"),
        ("ARM_TENANT_ID", "tenant and client ids"),
        ("ARM_CLIENT_ID", "tenant and client ids"),
    ],
)
def test_a_missing_variable_is_named(missing, named):
    env = ci_env("http://127.0.0.1:9/token")
    del env[missing]
    with pytest.raises(arm.CredentialError, match=named) as error:
        arm.default_credential(env)
    assert missing in str(error.value)


def test_a_refusal_by_github_is_a_sentence(github):
    github_url, _ = github
    fetch = arm.github_assertion(
        {"ACTIONS_ID_TOKEN_REQUEST_URL": github_url, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "wrong"}
    )
    with pytest.raises(arm.CredentialError, match="answered 401"):
        fetch()
