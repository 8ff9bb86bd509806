"""The candidate comparison and the client's `--deployment`, against a local stand-in endpoint
that answers per deployment header (127.0.0.1, free port)."""

import json
from collections.abc import Iterator
from typing import ClassVar

import pytest

from infra import compare, release
from infra.compare import sample
from infra.plan import ROLLOUT_STABLE
from scoring import client, customers
from tests.stubhttp import StubHandler, stub_server


class Endpoint(StubHandler):
    """p_leave follows the age; the deployment named `shifted` adds `shift` to it."""

    shift: ClassVar[float] = 0.0
    seen: ClassVar[list[str | None]] = []

    def do_POST(self) -> None:
        rows = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["data"]
        deployment = self.headers.get(client.DEPLOYMENT_HEADER)
        self.seen.append(deployment)
        extra = self.shift if deployment == "shifted" else 0.0
        pairs = []
        for row in rows:
            p_leave = min(1.0, row[3] / 100 + extra)
            pairs.append([1 - p_leave, p_leave])
        self.send_json(200, json.dumps(json.dumps(pairs)))


@pytest.fixture
def endpoint() -> Iterator[str]:
    Endpoint.seen.clear()
    with stub_server(Endpoint) as url:
        yield url + "/score"


def test_the_client_sends_one_deployment_by_header(endpoint, capsys):
    assert client.main(["--endpoint", endpoint, "--deployment", "m2-c0123abcd-e4567ef01"]) == 0
    assert Endpoint.seen == ["m2-c0123abcd-e4567ef01"]
    assert client.main(["--endpoint", endpoint]) == 0
    assert Endpoint.seen[-1] is None, "no header without --deployment"


def test_the_client_refuses_a_malformed_deployment_name(capsys):
    with pytest.raises(SystemExit):
        client.main(["--endpoint", "http://127.0.0.1:9/score", "--deployment", "9 lives"])
    assert "not a deployment name" in capsys.readouterr().err


def test_the_sample_is_fixed_and_well_formed():
    rows = sample()
    assert rows == sample() and len(rows) == compare.SAMPLE_SIZE
    assert all(len(row) == len(customers.FEATURES) for row in rows)
    assert {row[1] for row in rows} == {"France", "Germany", "Spain"}


def test_identical_deployments_show_no_difference(endpoint):
    delta, flips = compare.compare(endpoint, "k", "stable", "same", sample())
    assert (delta, flips) == (0.0, 0)
    assert Endpoint.seen == ["stable", "same"], "each deployment scored alone"


def test_a_shifted_candidate_shows_its_delta_and_flips(endpoint, monkeypatch):
    monkeypatch.setattr(Endpoint, "shift", 0.1)
    delta, flips = compare.compare(endpoint, "k", "stable", "shifted", sample())
    assert delta == pytest.approx(0.1)
    expected = sum(0.4 <= row[3] / 100 < 0.5 for row in sample())
    assert flips == expected > 0


@pytest.mark.parametrize(("limit", "code"), [(0.2, 0), (0.05, 1)])
def test_the_command_fails_above_the_limits(endpoint, monkeypatch, capsys, limit, code):
    monkeypatch.setattr(Endpoint, "shift", 0.1)
    monkeypatch.setattr(compare, "deployments", lambda _stack: ("stable", "shifted"))
    target = client.Target(endpoint, "k")
    monkeypatch.setattr(client, "stack_target", lambda _stack, _root: target)
    argv = ["--stack", "prod", "--max-delta", str(limit), "--max-flips", "1000"]
    assert compare.main(argv) == code
    out = capsys.readouterr().out
    assert "largest |Δp_leave| 0.1000" in out and "candidate shifted against stable stable" in out


def test_the_deployments_come_from_the_stack_file_and_the_repository(monkeypatch):
    monkeypatch.setattr(compare, "stack_config", lambda stack, overrides=None, root=None: ("", {}))
    assert compare.deployments("prod") is None, "no stableRelease: one release"

    def with_stable(stack, overrides=None, root=None):
        return "churn-scoring", {"churn-scoring:stableRelease": json.dumps(ROLLOUT_STABLE)}

    monkeypatch.setattr(compare, "stack_config", with_stable)
    stable, candidate = compare.deployments("org/prod") or ("", "")
    assert stable == release.parse(ROLLOUT_STABLE).deployment_name
    assert candidate.startswith("m") and candidate != stable
