"""The entry script behind AzureML's inference server, over HTTP, as clients see it."""

import json
import socket
from urllib.parse import urlsplit

import pytest
import requests

from scoring import score
from tests.localserver import local_server
from tests.test_score import KEY, SAMPLE


@pytest.fixture(scope="module")
def open_url():
    """As `make serve` runs it: the key check explicitly off."""
    with local_server({score.REQUIRE_ENV: "false"}) as url:
        yield f"{url}/score"


@pytest.fixture(scope="module")
def keyed_url():
    """As the ACI container runs it: a key is required."""
    with local_server({score.KEY_ENV: KEY}) as url:
        yield f"{url}/score"


def original_client(endpoint):
    # The tutorial's client, verbatim.
    # fmt: off
    x_new = [[596, "Germany", "Male", 32, 3, 96709.1, 2, 0, 0, 41788.4]]

    input_json = json.dumps({"data": x_new})

    headers = { 'Content-Type':'application/json' }

    predictions = requests.post(endpoint, input_json, headers = headers)
    predicted_classes = json.loads(predictions.json())
    # fmt: on
    return predicted_classes


def test_the_original_client_works_unchanged(open_url):
    [[stay, leave]] = original_client(open_url)
    assert stay > 0.9
    assert stay + leave == pytest.approx(1)


def test_the_key_is_required_when_set(keyed_url):
    sample = {"data": [SAMPLE]}
    for headers in ({}, {"Authorization": "Bearer wrong-key-of-some-length"}):
        answer = requests.post(keyed_url, json=sample, headers=headers, timeout=10)
        assert answer.status_code == 401
        assert "Bearer" in answer.json()["message"]
    answer = requests.post(
        keyed_url, json=sample, headers={"Authorization": f"Bearer {KEY}"}, timeout=10
    )
    assert answer.status_code == 200
    assert json.loads(answer.json())[0][0] > 0.9


def test_options_follows_the_key_rule_over_http(keyed_url):
    assert requests.options(keyed_url, timeout=10).status_code == 401
    auth = {"Authorization": f"Bearer {KEY}"}
    answer = requests.options(keyed_url, headers=auth, timeout=10)
    assert answer.status_code == 405 and answer.headers["Allow"] == "POST"


def chunks():
    for _ in range(score.MAX_BODY_BYTES // 65536 + 2):
        yield b" " * 65536


BAD_REQUESTS = [
    ("post", {"data": b"{not json"}, 400),
    ("post", {"data": b"\xff\xfe\xfd"}, 400),
    ("post", {"data": b"[" * 100_000}, 400),
    ("post", {"data": b'{"data": [[NaN, 1]]}'}, 400),
    ("post", {"json": {"data": [[1, "Mars"]]}}, 400),
    ("post", {"json": {"data": [{"Age": "old"}]}}, 400),
    ("post", {"json": {"data": [SAMPLE] * (score.MAX_ROWS + 1)}}, 413),
    ("post", {"data": b" " * (score.MAX_BODY_BYTES + 1)}, 413),
    ("post", {"data": chunks()}, 413),
    ("post", {"data": b"data=1", "headers": {"Content-Type": "text/plain"}}, 415),
    ("get", {}, 405),
    ("delete", {}, 405),
]


@pytest.mark.parametrize("method, kwargs, status", BAD_REQUESTS)
def test_bad_requests_get_a_4xx_json_reason_and_the_server_stays_healthy(
    open_url, method, kwargs, status
):
    kwargs.setdefault("headers", {"Content-Type": "application/json"})
    answer = requests.request(method, open_url, timeout=30, **kwargs)
    assert answer.status_code == status, answer.text
    assert answer.json()["message"]
    assert original_client(open_url)[0][0] > 0.9


def test_errors_name_row_column_and_expectation(open_url):
    row = dict(zip([c.name for c in score.CONTRACT], SAMPLE)) | {"Geography": "Mars"}
    answer = requests.post(open_url, json={"data": [SAMPLE, row]}, timeout=10)
    assert answer.status_code == 400
    assert answer.json()["errors"] == [
        {"row": 1, "column": "Geography", "expected": "one of France, Germany, Spain",
         "got": '"Mars"'}
    ]  # fmt: skip


def test_swagger_describes_the_service_with_the_sample(open_url):
    base = open_url.removesuffix("/score")
    spec = requests.get(f"{base}/swagger.json", timeout=10).json()
    assert spec["info"]["title"] == "churn-scoring"
    definitions = spec["definitions"]
    answer = requests.post(open_url, json=definitions["ServiceInput"]["example"], timeout=10)
    assert answer.json() == definitions["ServiceOutput"]["example"]


def test_the_modules_beside_the_entry_script_load_whatever_the_app_root(tmp_path):
    """AzureML may set AML_APP_ROOT to the folder above the code; the entry script puts its own
    folder on the path, so its modules import all the same."""
    with local_server({score.REQUIRE_ENV: "false", "AML_APP_ROOT": str(tmp_path)}) as url:
        [[stay, _]] = original_client(f"{url}/score")
    assert stay > 0.9


@pytest.mark.parametrize(
    "chunks",
    [
        b"zz\r\n{}\r\n0\r\n\r\n",  # a chunk size that is not hexadecimal
        b"2\r\n{}XX0\r\n\r\n",  # a chunk without its CRLF terminator
        b"2;a\rb\r\n{}\r\n0\r\n\r\n",  # a bare CR in a chunk extension
    ],
)
def test_bad_chunked_framing_gets_a_400_json_reason(open_url, chunks):
    parts = urlsplit(open_url)
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.hostname}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head.encode() + chunks)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"chunked framing is invalid" in answer
    assert original_client(open_url)[0][0] > 0.9
