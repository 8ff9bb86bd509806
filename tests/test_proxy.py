"""proxy/Caddyfile with the real Caddy binary in front of azmlinfsrv, on loopback.

One worker behind the proxy: any slow client that reached it would hold it, and the valid request
would wait. The timeouts are shortened through the Caddyfile's own settings so that the test does
not wait the deployed 5 s and 10 s; everything else is the file the sidecar runs.
"""

import json
import time
from urllib.parse import urlsplit

import pytest
import requests

from bench.slow_clients import SlowClients
from proxy.caddy import free_port, proxy
from scoring import score
from tests.localserver import local_server
from tests.test_score import KEY, SAMPLE

HEADER_S, BODY_S = 2, 3
TIMEOUTS = {"PROXY_HEADER_TIMEOUT": f"{HEADER_S}s", "PROXY_BODY_TIMEOUT": f"{BODY_S}s"}
SLOW_EACH = 17  # idle, stalled headers, trickled bodies: 51 slow connections


@pytest.fixture(scope="module")
def upstream():
    with local_server({score.KEY_ENV: KEY}, workers=1) as url:
        yield urlsplit(url).netloc


@pytest.fixture(scope="module")
def proxied(upstream):
    with proxy(upstream, env=TIMEOUTS) as (url, log):
        yield url, log


def score_request(url, body=None, key=KEY):
    return requests.post(
        f"{url}/score",
        data=json.dumps({"data": [SAMPLE]}) if body is None else body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        timeout=30,
    )


def test_a_valid_request_is_answered_while_fifty_slow_clients_are_open(proxied):
    url, log = proxied
    slow = SlowClients(urlsplit(url).port, SLOW_EACH, trickle_every_s=1.0)
    try:
        time.sleep(0.3)  # every slow connection accepted and stalled
        answer = score_request(url)
        slow.poll()
        assert answer.status_code == 200, answer.text
        [[stay, leave]] = json.loads(answer.json())
        assert stay > 0.9 and stay + leave == pytest.approx(1)
        # Answered while every slow client was still connected and unanswered.
        assert not slow.closed
        assert not any(slow.received.values())

        # Past both timeouts, each kind has had the proxy's (non-)answer.
        deadline = time.monotonic() + BODY_S + 5
        while time.monotonic() < deadline:
            slow.poll()
            time.sleep(0.2)
        for kind in ("idle", "headers", "body"):
            assert not any(a.startswith(b"HTTP/1.1 5") for a in slow.answers(kind)), kind
        # Silent past read_header: closed without a reply.
        assert slow.answers("idle") == [b""] * SLOW_EACH
        idle = {id(s) for k, s in slow.socks if k == "idle"}
        assert idle <= slow.closed
        # Headers cut off: Go's net/http answers 400 itself (not 408) and closes.
        assert all(a.startswith(b"HTTP/1.1 400 Bad Request") for a in slow.answers("headers"))
        # Body too slow: the request is dropped unanswered (Caddy logs 499), no worker involved.
        assert slow.answers("body") == [b""] * SLOW_EACH
        statuses = [json.loads(line).get("status") for line in access_lines(log)]
        assert statuses.count(499) == SLOW_EACH
        assert not any(status >= 500 for status in statuses)
    finally:
        slow.close()


def access_lines(log):
    return [line for line in log.read_text().splitlines() if '"http.log.access' in line]


def test_the_service_answers_pass_through(proxied):
    url, log = proxied
    assert score_request(url).status_code == 200
    refused = score_request(url, key="wrong-key-of-some-length")
    assert refused.status_code == 401
    assert "Bearer" in refused.json()["message"]
    assert score_request(url, body="{not json").status_code == 400
    huge = requests.get(f"{url}/", headers={"X-Padding": "x" * 20_000}, timeout=10)
    assert huge.status_code == 431  # max_header_size, from the proxy
    assert KEY not in log.read_text()  # the access log leaves the Authorization header out


def test_bodies_over_4_mib_stop_at_the_proxy(proxied):
    url, _ = proxied
    limit = score.MAX_BODY_BYTES
    for size in (limit + 1, 10 * limit):
        refused = score_request(url, body=b" " * size)
        assert refused.status_code == 413
        assert refused.json() == {"message": f"the body exceeds {limit} bytes"}

    def chunked(size):
        for start in range(0, size, 65536):
            yield b" " * min(65536, size - start)

    assert score_request(url, body=chunked(limit + 1)).status_code == 413
    # Up to the limit, whole bodies go through, chunked ones with their length.
    sample = json.dumps({"data": [SAMPLE]}).encode()
    assert score_request(url, body=b" " * (limit - len(sample)) + sample).ok
    assert score_request(url, body=iter([b" " * 70000, sample])).ok


def test_the_aci_mode_redirects_to_https_and_issues_only_for_its_own_name(upstream):
    http_port, ask_port = free_port(), free_port()
    label, region = "churn-dev-abcd1234", "westeurope"
    env = {
        "PROXY_MODE": "aci",
        "PROXY_SITE": "https://",
        "PROXY_HTTP_PORT": str(http_port),
        "PROXY_HTTPS_PORT": str(free_port()),
        "PROXY_ASK_PORT": str(ask_port),
        "PROXY_LABEL": label,
        "PROXY_REGION": region,
    }
    with proxy(upstream, port=http_port, env=env):
        name = f"{label}.k2x7.{region}.azurecontainer.io"
        redirect = requests.get(
            f"http://127.0.0.1:{http_port}/score?x=1",
            headers={"Host": name},
            allow_redirects=False,
            timeout=10,
        )
        assert redirect.status_code == 308
        assert redirect.headers["Location"] == f"https://{name}/score?x=1"

        def allowed(domain):
            ask = f"http://127.0.0.1:{ask_port}/allowed"
            return requests.get(ask, params={"domain": domain}, timeout=10).status_code == 200

        assert allowed(name)
        assert allowed(f"{label}.{region}.azurecontainer.io")
        for other in (
            "example.com",
            f"{label}x.{region}.azurecontainer.io",
            f"{label}.k2x7.northeurope.azurecontainer.io",
            f"{label}.k2x7.{region}.azurecontainer.io.example.com",
            f"evil.{label}.k2x7.{region}.azurecontainer.io",
        ):
            assert not allowed(other), other
