"""Probes and stalls over HTTP, on the real azmlinfsrv.

azmlinfsrv 1.5.1 runs gunicorn: the master binds the port, each worker imports the entry script
and calls init(); `/` answers "Healthy" from a worker, so only once init() has returned. When
init() raises, the worker exits with gunicorn's boot-error code 3 and the master stops with it:
the container's probe fails and the platform restarts it, instead of serving 500s.
"""

import json
import shutil
import socket
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from load import server
from load.server import ROOT, SCRIPTS, stop
from scoring import score

ENTRY_SCRIPT = SCRIPTS["ours"]
MODEL_DIR = server.MODEL_DIR
KEY_ENV = score.KEY_ENV

KEY = "resilience-key-0123456789"
INIT_DONE = "init has completed successfully"  # azmlinfsrv's log line once init() returned
# The entry script with a slow init() and a short body timeout, to watch both from outside.
SLOW_ENTRY = """
import time
from scoring import score
from scoring.score import run  # noqa: F401

score.httpbody.BODY_TIMEOUT_S = 1


def init():
    time.sleep(3)
    score.init()
"""


def start(entry_script, model_dir, log_path):
    return server.start(
        entry_script, model_dir, {"AML_APP_ROOT": str(ROOT), KEY_ENV: KEY}, log_path
    )


def probe(url):
    """Status of GET / as a probe sees it; None when nothing answers within a second."""
    try:
        with urllib.request.urlopen(f"{url}/", timeout=1) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def test_failing_init_fails_the_probe_instead_of_serving_500s(tmp_path):
    broken = tmp_path / "model"
    shutil.copytree(MODEL_DIR, broken)
    (broken / score.PIPELINE_FILE).write_bytes(b"not the pickle the manifest names")
    process, url = start(ENTRY_SCRIPT, broken, tmp_path / "server.log")
    answers = []
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            answers.append(probe(url))
            time.sleep(0.2)
        exit_code = process.poll()
    finally:
        stop(process)
    assert exit_code == 3, "the server must stop when init() fails"
    assert set(answers) == {None}, f"a server without a model answered the probe: {answers}"
    assert score.PIPELINE_FILE in (tmp_path / "server.log").read_text(errors="replace")


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory):
    """Start the slow-init server; yield its URL and whether init() had finished at first 200."""
    folder = tmp_path_factory.mktemp("slow")
    (folder / "slow_score.py").write_text(SLOW_ENTRY)
    log = folder / "server.log"
    process, url = start(folder / "slow_score.py", MODEL_DIR, log)
    try:
        deadline = time.monotonic() + 120
        while probe(url) != 200:
            assert process.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the server never became ready"
            time.sleep(0.05)
        yield url, INIT_DONE in log.read_text(errors="replace")
    finally:
        stop(process)


def test_ready_only_after_init_succeeded(slow_server):
    _, init_done_when_ready = slow_server
    assert init_done_when_ready


def test_client_that_stops_sending_gets_408_and_frees_the_worker(slow_server):
    url, _ = slow_server
    head = (
        f"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head.encode() + b'{"data": [[596, "Ger')  # and then nothing
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b'"message"' in answer
    request = urllib.request.Request(
        f"{url}/score",
        json.dumps({"data": [score.SAMPLE_ROW]}).encode(),
        {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
