"""The capture of scored rows: in-process rules, then over HTTP on AzureML's inference server."""

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from scoring import capture, score
from tests.localserver import MODEL_DIR, local_server
from tests.stubhttp import StubHandler, stub_server
from tests.test_score import SAMPLE

MANIFEST = json.loads((MODEL_DIR / "manifest.json").read_text())
FEATURES = MANIFEST["features"]
OBJECT_ROW = dict(zip(FEATURES, SAMPLE, strict=True))
BODY = json.dumps({"data": [SAMPLE, OBJECT_ROW]}).encode()
ANSWER = "[[0.9, 0.1], [0.4, 0.6]]"


def captured(folder: Path) -> list[dict]:
    return [json.loads(line) for f in sorted(folder.rglob("*.jsonl")) for line in f.open()]


def wait_for(folder: Path, count: int, timeout_s: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while len(captured(folder)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return captured(folder)


def test_a_record_holds_the_inputs_the_answer_and_no_header(tmp_path):
    started = capture.start(MANIFEST, {capture.DIR_ENV: str(tmp_path), "CHURN_DEPLOYMENT": "x"})
    assert started is not None
    started.record(BODY, ANSWER)
    started.stop()
    first, second = captured(tmp_path)
    assert {k: first[k] for k in FEATURES} == OBJECT_ROW == {k: second[k] for k in FEATURES}
    assert (first["p_leave"], first["decision"]) == (0.1, "stay")
    assert (second["p_leave"], second["decision"]) == (0.6, "leave")
    assert (first["row"], second["row"]) == (0, 1)
    assert first["model_version"] == MANIFEST["version"] and first["deployment"] == "x"
    assert set(first) == set(FEATURES) | {"time", "request_id", "row", "p_leave", "decision"} | {
        "model",
        "model_version",
        "deployment",
    }
    hour = datetime.fromisoformat(first["time"]).strftime("%Y/%m/%d/%H")
    assert [p.parent.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.jsonl")] == [hour]


def test_capture_is_off_without_a_folder():
    assert capture.start(MANIFEST, {}) is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (capture.SAMPLING_ENV, "1.5"),
        (capture.SAMPLING_ENV, "half"),
        (capture.QUEUE_ENV, "0"),
        (capture.RETENTION_ENV, "-1"),
    ],
)
def test_bad_settings_are_refused_with_their_name(tmp_path, name, value):
    with pytest.raises(capture.CaptureError, match=name):
        capture.start(MANIFEST, {capture.DIR_ENV: str(tmp_path), name: value})


class Stuck:
    """A writer that waits until released, as a hung file share would."""

    def __init__(self):
        self.entered = threading.Event()
        self.release = threading.Event()
        self.written: list[dict] = []

    def write(self, batch):
        self.entered.set()
        self.release.wait()
        self.written += batch

    def close(self):
        pass


def test_a_full_queue_drops_and_counts_without_waiting():
    stuck = Stuck()
    held = capture.Capture(lambda: [stuck], FEATURES, {}, capacity=3)
    held.record(BODY, ANSWER)
    assert stuck.entered.wait(timeout=60)  # the writer is stuck with the first request
    calls = threading.Thread(target=lambda: [held.record(BODY, ANSWER) for _ in range(99)])
    calls.start()
    calls.join(timeout=60)
    assert not calls.is_alive(), "record() waited for the stuck writer"
    assert held.counts["dropped"] == 99 - 3  # the queue holds 3, the rest are dropped
    stuck.release.set()
    held.stop()
    assert len(stuck.written) == 2 * (100 - held.counts["dropped"])


def test_a_failing_writer_is_counted_and_the_thread_goes_on():
    class Failing:
        def write(self, batch):
            raise OSError("the share is gone")

        def close(self):
            pass

    failing = capture.Capture(lambda: [Failing()], FEATURES, {})
    failing.record(BODY, ANSWER)
    failing.record(BODY, ANSWER)
    failing.stop()
    assert failing.counts["failed"] == 2 and failing.counts["captured"] == 0


def test_sampling_decides_per_request():
    class Keep:
        def __init__(self):
            self.written = []

        def write(self, batch):
            self.written += batch

        def close(self):
            pass

    kept = Keep()
    sampled = capture.Capture(lambda: [kept], FEATURES, {}, sampling=0.25)
    for _ in range(2000):
        sampled.record(BODY, ANSWER)
    sampled.stop()
    requests_kept = len(kept.written) // 2
    assert 400 <= requests_kept <= 600  # 500 expected, sd 19
    assert capture.Capture(lambda: [kept], FEATURES, {}, sampling=0).record(BODY, ANSWER) is None


def test_a_deleted_file_is_written_again(tmp_path):
    writer = capture.JsonLinesWriter(tmp_path, retention_days=None)
    rows = capture.records((time.time(), "r", BODY, ANSWER), FEATURES, {})
    writer.write(rows)
    [written] = tmp_path.rglob("*.jsonl")
    written.unlink()
    writer.write(rows)
    assert len(captured(tmp_path)) == len(rows)


def test_old_hours_are_pruned(tmp_path):
    for hour in ("2026/11/01/00", "2026/12/02/23", "2026/12/03/10"):
        (tmp_path / hour).mkdir(parents=True)
        (tmp_path / hour / "a.jsonl").write_text("{}\n")
    (tmp_path / "notes").mkdir()
    writer = capture.JsonLinesWriter(tmp_path, retention_days=7)
    writer.prune(datetime(2026, 12, 3, 11, tzinfo=UTC))
    left = sorted(p.parent.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.jsonl"))
    assert left == ["2026/12/02/23", "2026/12/03/10"]
    assert not (tmp_path / "2026" / "11").exists() and (tmp_path / "notes").exists()


def test_the_azureml_path_collects_inputs_and_outputs_with_one_request_id(monkeypatch):
    collected = []

    class Collector:
        def __init__(self, *, name, on_error):
            self.name = name

        def collect(self, frame, context):
            collected.append((self.name, frame, context.get_id()))

    monkeypatch.setattr("azureml.ai.monitoring.Collector", Collector)
    writer = capture.CollectorWriter(FEATURES)
    item = (time.time(), "req-1", BODY, ANSWER)
    writer.write(capture.records(item, FEATURES, {}))
    (inputs, frame_in, id_in), (outputs, frame_out, id_out) = collected
    assert (inputs, outputs) == (capture.INPUTS_COLLECTION, capture.OUTPUTS_COLLECTION)
    assert list(frame_in.columns) == FEATURES and len(frame_in) == 2
    assert list(frame_out.columns) == ["p_leave", "decision"]
    assert id_in == id_out == "req-1"


# -- over HTTP ----------------------------------------------------------------------------------

GOOD = [[SAMPLE], [OBJECT_ROW, SAMPLE], [[700, "France", "Female", 60, 1, 0.0, 1, 1, 0, 5e4]]]
BAD = [
    {"json": {"data": [[1, "Mars"]]}},
    {"json": {"rows": []}},
    {"data": b"{not json", "headers": {"Content-Type": "application/json"}},
    {"data": b"a=1", "headers": {"Content-Type": "text/plain"}},
]


def exchange(url: str) -> list[tuple[int, str]]:
    answers = [requests.post(url, json={"data": rows}, timeout=10) for rows in GOOD]
    answers += [requests.post(url, timeout=10, **bad) for bad in BAD]
    answers.append(requests.get(url, timeout=10))
    return [(a.status_code, a.text) for a in answers]


def test_over_http_answers_are_identical_with_capture_on_and_rejections_are_not_captured(
    tmp_path,
):
    env = {score.REQUIRE_ENV: "false"}
    with local_server(env) as url:
        off = exchange(f"{url}/score")
    on_env = env | {capture.DIR_ENV: str(tmp_path), capture.DEPLOYMENT_ENV: "local-test"}
    with local_server(on_env) as url:
        on = exchange(f"{url}/score")
        rows = wait_for(tmp_path, 4)
    assert on == off
    assert [status for status, _ in on] == [200] * 3 + [400, 400, 400, 415, 405]
    assert len(rows) == sum(map(len, GOOD)) == 4  # the rejected requests left nothing
    answered = [p for _, text in on[:3] for _, p in json.loads(json.loads(text))]
    assert [r["p_leave"] for r in rows] == answered
    assert {r["deployment"] for r in rows} == {"local-test"}
    assert len({r["request_id"] for r in rows}) == 3 and all(r["request_id"] for r in rows)


def test_over_http_sampling_keeps_about_that_share(tmp_path):
    env = {score.REQUIRE_ENV: "false", capture.DIR_ENV: str(tmp_path)}
    with local_server(env | {capture.SAMPLING_ENV: "0.5"}) as url:
        for _ in range(200):
            assert requests.post(f"{url}/score", json={"data": [SAMPLE]}, timeout=10).ok
        time.sleep(1)
        kept = len(captured(tmp_path))
    assert 60 <= kept <= 140  # 100 expected, sd 7


def test_over_http_a_broken_capture_folder_changes_no_answer(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    env = {score.REQUIRE_ENV: "false", capture.DIR_ENV: str(blocked / "captures")}
    with local_server(env) as url:
        answers = exchange(f"{url}/score")
    with local_server({score.REQUIRE_ENV: "false"}) as url:
        assert exchange(f"{url}/score") == answers


def test_over_http_the_azureml_path_sends_inputs_and_outputs_to_the_collector_sidecar():
    """AzureML runs a data collection agent beside the container; azureml-ai-monitoring posts
    each collection to it. A local stand-in plays the agent."""
    received: list[tuple[dict, object]] = []

    class Agent(StubHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), json.loads(body)))
            self.send_json(200, {})

    with stub_server(Agent) as agent:
        port = agent.rsplit(":", 1)[1]
        env = {score.REQUIRE_ENV: "false", "AZUREML_MDC_ENABLED": "true"}
        env |= {"AZUREML_MDC_HOST": "127.0.0.1", "AZUREML_MDC_PORT": port}
        with local_server(env) as url:
            answer = requests.post(f"{url}/score", json={"data": [SAMPLE, OBJECT_ROW]}, timeout=10)
            assert (
                requests.post(f"{url}/score", json={"data": [[1]]}, timeout=10).status_code == 400
            )
            deadline = time.monotonic() + 30
            while len(received) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
    assert answer.status_code == 200
    by_type = {headers["ce-type"]: (headers, body) for headers, body in received}
    assert set(by_type) == {"azureml.inference.model_inputs", "azureml.inference.model_outputs"}
    (in_headers, inputs), (out_headers, outputs) = by_type.values()
    assert in_headers["ce-x-request-id"] == out_headers["ce-x-request-id"] != ""
    assert len(received) == 2  # the rejected request sent nothing
    assert [list(row) for row in inputs] == [FEATURES, FEATURES]
    leave = [p for _, p in json.loads(answer.json())]
    assert [row["p_leave"] for row in outputs] == pytest.approx(leave)


def test_over_http_capture_survives_preloading_and_two_workers(tmp_path):
    """With WORKER_PRELOAD the entry script starts in gunicorn's master, before the fork: each
    worker must get a queue and a writer thread of its own, and a file of its own."""
    env = {score.REQUIRE_ENV: "false", capture.DIR_ENV: str(tmp_path), "WORKER_PRELOAD": "true"}
    with local_server(env, workers=2) as url:
        for _ in range(40):
            assert requests.post(f"{url}/score", json={"data": [SAMPLE]}, timeout=10).ok
        rows = wait_for(tmp_path, 40)
    assert len(rows) == 40
    assert len({r["request_id"] for r in rows}) == 40
