"""`python -m scoring.client --check`: the service contract against the real local server, and
against local stand-ins for an endpoint that is still starting (502/503/504, connection refused)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from infra import outputs
from scoring import client, score, smoke
from tests.localserver import local_server
from tests.stubhttp import StubHandler, stub_server
from tests.test_client import fake_pulumi

ROOT = Path(__file__).resolve().parent.parent
KEY = "smoke-test-key-0123456789abcdef"


@pytest.fixture(scope="module")
def keyed():
    with local_server({score.KEY_ENV: KEY}) as url:
        yield f"{url}/score"


def test_a_live_endpoint_passes_every_check_one_line_each(keyed):
    done = subprocess.run(
        [sys.executable, "-m", "scoring.client", "--endpoint", keyed, "--key", KEY, "--check"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"ok   {name}" for name, _ in smoke.CHECKS]
    assert "Geography 'Atlantis': expected one of France, Germany, Spain" in lines[2]


def test_a_wrong_key_fails_the_checks_that_need_it(keyed, capsys):
    assert client.main(["--endpoint", keyed, "--key", "not-the-key", "--check"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("FAIL the sample customer stays: HTTP 401")
    assert lines[1].startswith("ok   a request without the key gets 401")


def test_stack_outputs_feed_the_check(keyed, capsys, tmp_path, monkeypatch):
    fake_pulumi(
        tmp_path, monkeypatch, json.dumps({outputs.SCORING_URI: keyed, outputs.SCORING_KEY: KEY})
    )
    assert client.main(["--stack", "dev", "--check"]) == 0
    assert capsys.readouterr().out.count("ok   ") == len(smoke.CHECKS)


def test_check_refuses_rows_of_its_own_choosing(capsys):
    with pytest.raises(SystemExit):
        client.main(["--endpoint", "http://127.0.0.1:9/score", "--check", "--expect", "stay"])
    assert "--check scores its own rows" in capsys.readouterr().err


# -- an endpoint that is still starting -----------------------------------------------------------
class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def starting_endpoint(failures: list[int], key: str | None = KEY):
    """Answers the statuses in `failures` first (one per request), then like the service."""

    class Handler(StubHandler):
        def reply(self) -> None:
            if failures:
                self.send_json(failures.pop(0), {"message": "starting"})
            elif self.command == "GET":
                self.send_json(200, {"swagger": "2.0", "paths": {"/score": {}}})
            elif key and self.headers.get("Authorization") != f"Bearer {key}":
                self.send_json(401, {"message": "key"})
            else:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if body["data"][0][1] == smoke.BAD_VALUE:
                    errors = [{"row": 0, "column": "Geography", "expected": "one of France"}]
                    self.send_json(400, {"message": "1 problem", "errors": errors})
                else:
                    self.send_json(200, json.dumps(json.dumps([[0.9, 0.1]])))

        do_GET = do_POST = reply

    return stub_server(Handler)


def test_502_503_504_are_retried_with_growing_backoff():
    fake = FakeTime()
    with starting_endpoint([503, 502, 504, 503]) as url:
        http = smoke.Patient(5, wait_s=60, sleep=fake.sleep, clock=fake.clock)
        outcomes = smoke.run_checks(f"{url}/score", KEY, client.SAMPLE_CUSTOMER, http)
    assert [o.ok for o in outcomes] == [True] * len(smoke.CHECKS), outcomes
    assert fake.sleeps == [1, 2, 4, 8]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_is_retried_until_one_shared_deadline():
    fake = FakeTime()
    http = smoke.Patient(2, wait_s=30, sleep=fake.sleep, clock=fake.clock)
    url = f"http://127.0.0.1:{free_port()}/score"
    outcomes = smoke.run_checks(url, KEY, client.SAMPLE_CUSTOMER, http)
    assert [o.ok for o in outcomes] == [False] * len(smoke.CHECKS)
    assert outcomes[0].detail.endswith("still failing after the wait (ConnectionError)")
    # Backoff doubles, is cut at the deadline, and the later checks do not wait again.
    assert fake.sleeps == [1, 2, 4, 8, 15]
    assert fake.now == 30


def test_an_endpoint_that_never_comes_up_fails_the_command(capsys, monkeypatch):
    monkeypatch.setattr(smoke, "WAIT_S", 0.0)
    code = client.main(["--endpoint", f"http://127.0.0.1:{free_port()}/score", "--check"])
    assert code == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["FAIL", "skip", "FAIL", "FAIL"]


def test_an_endpoint_without_auth_skips_the_401_check(capsys):
    with starting_endpoint([], key=None) as url:
        assert client.main(["--endpoint", f"{url}/score", "--check"]) == 0
    out = capsys.readouterr().out
    assert "skip a request without the key gets 401: the endpoint has no key" in out


@pytest.mark.parametrize(
    ("uri", "swagger"),
    [
        ("http://x.westeurope.azurecontainer.io:5001/score", "http://x.westeurope.azurecontainer.io:5001/swagger.json"),
        ("http://20.0.0.10/api/v1/endpoint/churn/score", "http://20.0.0.10/api/v1/endpoint/churn/swagger.json"),
    ],
)  # fmt: skip
def test_the_swagger_document_sits_beside_the_scoring_route(uri, swagger):
    assert smoke.swagger_uri(uri) == swagger
