"""Hostile input over HTTP against the real azmlinfsrv serving scoring/score.py.

Every answer must be a 4xx with a JSON reason, or a 2xx with scores for input that is valid;
never a 5xx, never a dropped connection; and the server scores correctly afterwards.
"""

import http.client
import json
import math
import os
import socket
from typing import NamedTuple
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring import score
from tests.localserver import local_server

KEY = "fuzz-key-0123456789abcdef"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2000"))
COLUMNS = [c.name for c in score.CONTRACT]
SAMPLE = score.SAMPLE_ROW

# Outcomes a payload may lead to.
VALID = "valid"  # must score: 200 with one [p_stay, p_leave] per row
INVALID = "invalid"  # must be refused with a 4xx
TOO_LARGE = "too large"  # must be refused with 413
UNAUTHORIZED = "unauthorized"  # must be refused with 401
UNSUPPORTED = "unsupported"  # must be refused with 415


class Payload(NamedTuple):
    body: bytes
    content_type: str | None
    expected: str
    rows: int | None
    key: str | None = KEY


# Values every rule of the entry script accepts (the ranges seen in the training data).
valid_rows = st.tuples(
    st.integers(350, 850), st.sampled_from(["France", "Germany", "Spain"]),
    st.sampled_from(["Female", "Male"]), st.integers(18, 92), st.integers(0, 10),
    st.floats(0, 250_000), st.integers(1, 4), st.integers(0, 1), st.integers(0, 1),
    st.floats(11, 200_000),
).map(list)  # fmt: skip
valid_object_rows = valid_rows.map(lambda row: dict(zip(COLUMNS, row, strict=True)))
junk = st.one_of(
    st.none(), st.text(max_size=20), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)  # fmt: skip
not_a_number = st.one_of(
    st.none(), st.text(max_size=20).filter(lambda s: not _numeric(s)), st.lists(st.integers()),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)  # fmt: skip
huge = st.one_of(
    st.integers(20, 5000).map(lambda digits: "9" * digits),
    st.sampled_from(["1e308", "-1e308", "1e309", "-1e400", "123456789012345678901234567890.5"]),
)
hostile_text = st.text(st.characters(exclude_categories=()), min_size=1, max_size=40).filter(
    lambda s: s not in ("France", "Germany", "Spain", "Female", "Male")
)
not_a_category = st.one_of(
    st.none(), st.integers(), hostile_text, st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)  # fmt: skip
# JSON media types (application/json, application/*+json) score; every other type gets 415.
content_types = st.sampled_from(
    [(None, UNSUPPORTED), ("text/plain", UNSUPPORTED), ("application/xml", UNSUPPORTED),
     ("application/x-www-form-urlencoded", UNSUPPORTED), ("text/json", UNSUPPORTED),
     ("multipart/form-data; boundary=xyz", UNSUPPORTED), ("garbage", UNSUPPORTED),
     ("application/jsonx", UNSUPPORTED), ("application/json; charset=latin-1", VALID),
     ("Application/JSON", VALID), ("application/vnd.api+json", VALID)]
)  # fmt: skip


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _dump(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


@st.composite
def valid_envelopes(draw):
    rows = draw(st.lists(st.one_of(valid_rows, valid_object_rows), min_size=1, max_size=20))
    return Payload(_dump({"data": rows}), "application/json", VALID, len(rows))


@st.composite
def wrong_types(draw):
    row = draw(valid_rows)
    column = draw(st.integers(0, 9))
    row[column] = draw(not_a_category if column in (1, 2) else not_a_number)
    return Payload(_dump({"data": [row]}), "application/json", INVALID, 1)


@st.composite
def missing_and_extra_keys(draw):
    row = draw(valid_object_rows)
    kind = draw(st.sampled_from(["missing column", "extra column", "no data", "extra key"]))
    if kind == "missing column":
        del row[draw(st.sampled_from(COLUMNS))]
        return Payload(_dump({"data": [row]}), "application/json", INVALID, 1)
    if kind == "extra column":
        row[draw(hostile_text.filter(lambda s: s not in COLUMNS))] = draw(junk)
        return Payload(_dump({"data": [row]}), "application/json", INVALID, 1)
    key = draw(hostile_text.filter(lambda s: s != "data"))
    if kind == "no data":
        return Payload(_dump({key: [row]}), "application/json", INVALID, 1)
    return Payload(_dump({"data": [row], key: 1}), "application/json", INVALID, 1)


@st.composite
def huge_and_non_finite(draw):
    row = [json.dumps(value) for value in draw(valid_rows)]
    numeric = [0, 3, 4, 5, 6, 7, 8, 9]
    column = draw(st.sampled_from(numeric))
    row[column] = draw(st.one_of(huge, st.sampled_from(["NaN", "Infinity", "-Infinity"])))
    return Payload(
        ('{"data": [[' + ", ".join(row) + "]]}").encode(), "application/json", INVALID, 1
    )


@st.composite
def unicode_text(draw):
    row = draw(valid_rows)
    row[draw(st.sampled_from([1, 2]))] = draw(hostile_text)
    body = _dump({"data": [row]})
    if draw(st.booleans()):  # raw bytes that are not UTF-8
        cut = draw(st.integers(0, len(body)))
        body = (
            body[:cut] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"])) + body[cut:]
        )
    return Payload(body, "application/json", INVALID, 1)


@st.composite
def empty_and_nested(draw):
    depth = draw(st.one_of(st.integers(1, 64), st.integers(64, 200_000)))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('{"data":', "}")]))
    nested = opener * depth + "1" + closer * depth
    body = draw(
        st.sampled_from(
            ["", " ", "{}", "[]", "null", '""', '{"data": null}', '{"data": {}}', '{"data": [[]]}',
             nested, '{"data": [' + nested + "]}", '{"data": [[' + nested + "]]}"]
        )
    )  # fmt: skip
    return Payload(body.encode(), "application/json", INVALID, None)


@st.composite
def wrong_content_types(draw):
    rows = draw(st.lists(valid_rows, min_size=1, max_size=3))
    content_type, expected = draw(content_types)
    return Payload(_dump({"data": rows}), content_type, expected, len(rows))


@st.composite
def truncated(draw):
    body = _dump({"data": draw(st.lists(valid_rows, min_size=1, max_size=5))})
    return Payload(body[: draw(st.integers(0, len(body) - 2))], "application/json", INVALID, None)


@st.composite
def long_rows(draw):
    row = draw(valid_rows) + [draw(st.integers())] * draw(st.integers(1, 50_000))
    return Payload(_dump({"data": [row]}), "application/json", INVALID, 1)


@st.composite
def wrong_keys(draw):
    printable = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40)
    key = draw(st.one_of(st.none(), st.just(KEY[:-1]), st.just(KEY + "x"), printable))
    return Payload(_dump({"data": [SAMPLE]}), "application/json", UNAUTHORIZED, 1, key)


@st.composite
def many_rows(draw):
    count = score.MAX_ROWS + draw(st.integers(1, score.MAX_ROWS))
    return Payload(
        _dump({"data": [draw(valid_rows)] * count}), "application/json", TOO_LARGE, count
    )


@st.composite
def oversized(draw):
    padding = score.MAX_BODY_BYTES + draw(st.integers(1, 1_000_000))
    return Payload(b" " * padding + _dump({"data": [SAMPLE]}), "application/json", TOO_LARGE, 1)


payloads = st.one_of(
    valid_envelopes(), wrong_types(), missing_and_extra_keys(), huge_and_non_finite(),
    unicode_text(), empty_and_nested(), wrong_content_types(), truncated(), long_rows(),
    wrong_keys(),
    # Large bodies are costly to send; a few dozen of each are enough.
    st.integers(0, 30).flatmap(lambda n: many_rows() if n == 0 else valid_envelopes()),
    st.integers(0, 30).flatmap(lambda n: oversized() if n == 0 else truncated()),
)  # fmt: skip


def post(url: str, body: bytes, content_type: str | None, key=KEY) -> tuple[int, str, bytes]:
    """POST raw bytes and read the answer even when the server answers before reading the whole
    body (413), as HTTP clients do; a connection dropped without an answer fails the test."""
    parts = urlsplit(url)
    head = f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
    if key is not None:
        head += f"Authorization: Bearer {key}\r\n"
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n"
    head += f"Content-Length: {len(body)}\r\n\r\n"
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        try:
            sock.sendall(head.encode("latin-1") + body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server has answered early and closed its side; read that answer
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.getheader("Content-Type", ""), response.read()


def check(status: int, content_type: str, answer: bytes, expected: str, rows: int | None) -> None:
    assert status < 500, answer[:500]
    if 200 <= status < 300:
        assert expected == VALID, f"accepted input that must be refused: {answer[:200]}"
        scores = json.loads(json.loads(answer))
        assert rows is None or len(scores) == rows
        assert all(len(pair) == 2 and math.isclose(sum(pair), 1, abs_tol=1e-6) for pair in scores)
        return
    assert 400 <= status < 500, (status, answer[:500])
    assert expected != VALID, f"refused valid input with {status}: {answer[:500]}"
    statuses = {TOO_LARGE: 413, UNAUTHORIZED: 401, UNSUPPORTED: 415}
    if expected in statuses:
        assert status == statuses[expected], answer[:500]
    assert "json" in content_type, content_type
    reason = json.loads(answer)
    assert isinstance(reason, dict) and reason, answer[:500]


def score_sample(url: str) -> list[list[float]]:
    status, _, answer = post(url, _dump({"data": [SAMPLE]}), "application/json")
    assert status == 200, answer
    return json.loads(json.loads(answer))


def cut_short_on_the_wire(url: str) -> bytes:
    """Announce more bytes than are sent (half a JSON body), then half-close."""
    parts = urlsplit(url)
    body = _dump({"data": [SAMPLE]})
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head.encode() + body[: len(body) // 2])
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture(scope="module")
def url():
    """The server as the containers run it: a key is required."""
    with local_server({score.KEY_ENV: KEY}) as base_url:
        yield f"{base_url}/score"


def test_hostile_payloads_get_4xx_with_a_reason_and_never_5xx(url):
    before = score_sample(url)
    sent = []

    @settings(
        max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(payloads)
    def fuzz(payload):
        sent.append(payload.expected)
        answer = post(url, payload.body, payload.content_type, payload.key)
        check(*answer, payload.expected, payload.rows)

    fuzz()
    assert len(sent) >= EXAMPLES
    assert {VALID, INVALID, TOO_LARGE, UNAUTHORIZED, UNSUPPORTED} <= set(sent)
    assert score_sample(url) == before


def test_body_cut_short_on_the_wire_gets_a_4xx(url):
    answer = cut_short_on_the_wire(url)
    status = int(answer.split(b" ", 2)[1])
    assert 400 <= status < 500, answer[:500]
    assert score_sample(url)
