"""The service contract, checked against a live endpoint (`python -m scoring.client --check`).

Four checks, one line each: the sample customer is scored "stay"; a request without the key is
refused with 401 (skipped when the endpoint has no key); a bad row is refused with 400 naming its
column; the Swagger document is served. A new endpoint may not answer yet (a fresh ACI DNS name,
`init()` still loading, the AKS router still starting): connection errors and 502/503/504 are
retried with exponential backoff until one shared deadline, then reported.

Like the client, this ships in the scoring image: standard library and requests only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from . import client

RETRY_STATUSES = frozenset({502, 503, 504})
WAIT_S = 300.0  # how long a new endpoint may take to answer at all
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 20.0
BAD_COLUMN = "Geography"
BAD_VALUE = "Atlantis"


class Unreachable(Exception):
    """No usable answer before the deadline."""


@dataclass(frozen=True)
class Outcome:
    name: str
    ok: bool | None  # None: skipped
    detail: str

    def line(self) -> str:
        status = {True: "ok  ", False: "FAIL", None: "skip"}[self.ok]
        return f"{status} {self.name}: {self.detail}"


class Patient:
    """HTTP requests that retry what a starting endpoint answers, until one shared deadline."""

    def __init__(
        self,
        timeout: float,
        wait_s: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = timeout
        self.sleep = sleep
        self.clock = clock
        self.deadline = clock() + (WAIT_S if wait_s is None else wait_s)
        self.retries = 0

    def request(self, method: str, url: str, **kwargs) -> requests.Response:
        backoff = FIRST_BACKOFF_S
        while True:
            try:
                response = requests.request(method, url, timeout=self.timeout, **kwargs)
                if response.status_code not in RETRY_STATUSES:
                    return response
                problem = f"HTTP {response.status_code}"
            except (requests.ConnectionError, requests.Timeout) as exc:
                problem = type(exc).__name__
            left = self.deadline - self.clock()
            if left <= 0:
                raise Unreachable(f"{url} still failing after the wait ({problem})")
            self.retries += 1
            self.sleep(min(backoff, left))
            backoff = min(backoff * 2, MAX_BACKOFF_S)


def swagger_uri(scoring_uri: str) -> str:
    """Both targets serve the document beside the scoring route (ACI: azmlinfsrv's
    /swagger.json; AKS: the endpoint's .../swagger.json)."""
    base, _, last = scoring_uri.rstrip("/").rpartition("/")
    return f"{base}/swagger.json" if last == "score" else f"{scoring_uri.rstrip('/')}/swagger.json"


def _headers(key: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


def _body(response: requests.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


Result = tuple[bool | None, str]  # passed (None: skipped), and what was seen


def _post(http: Patient, endpoint: str, key: str | None, row: list) -> requests.Response:
    return http.request("POST", endpoint, data=json.dumps({"data": [row]}), headers=_headers(key))


def sample_stays(http: Patient, endpoint: str, key: str | None, row: list) -> Result:
    response = _post(http, endpoint, key, row)
    if response.status_code != 200:
        return False, f"HTTP {response.status_code}: {response.text[:200]}"
    try:  # the client's own reading of an answer: a JSON string of [[p_stay, p_leave]]
        [(p_stay, p_leave)] = client.parse_answer(response.text, 1)
    except client.ClientError as ex:
        return False, str(ex)
    if client.decision(p_leave, client.THRESHOLD) == "leave":
        return False, f"decided leave (p_leave {p_leave:.4f})"
    return True, f"p_stay {p_stay:.4f}"


def key_required(http: Patient, endpoint: str, key: str | None, row: list) -> Result:
    if not key:
        return None, "the endpoint has no key (auth: none)"
    response = _post(http, endpoint, None, row)
    if response.status_code != 401:
        return False, f"got HTTP {response.status_code}"
    return True, "401"


def bad_row_refused(http: Patient, endpoint: str, key: str | None, row: list) -> Result:
    bad = list(row)
    bad[1] = BAD_VALUE
    response = _post(http, endpoint, key, bad)
    if response.status_code != 400:
        return False, f"got HTTP {response.status_code}: {response.text[:200]}"
    body = _body(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    named = [e for e in errors or [] if isinstance(e, dict) and e.get("column") == BAD_COLUMN]
    if not named:
        return False, f"400 without a reason naming {BAD_COLUMN}: {response.text[:200]}"
    return True, f"400, {BAD_COLUMN} {BAD_VALUE!r}: expected {named[0].get('expected')}"


def swagger_served(http: Patient, endpoint: str, key: str | None, row: list) -> Result:
    url = swagger_uri(endpoint)
    response = http.request("GET", url, headers=_headers(key))
    body = _body(response)
    if response.status_code != 200 or not isinstance(body, dict):
        return False, f"{url} answered HTTP {response.status_code}"
    version = body.get("swagger") or body.get("openapi")
    if not version or not body.get("paths"):
        return False, f"{url} is JSON but not a Swagger/OpenAPI document"
    return True, f"{url} (Swagger {version})"


CHECKS: tuple[tuple[str, Callable[[Patient, str, str | None, list], Result]], ...] = (
    ("the sample customer stays", sample_stays),
    ("a request without the key gets 401", key_required),
    ("a bad row gets 400 with its reason", bad_row_refused),
    ("the Swagger document is served", swagger_served),
)


def run_checks(endpoint: str, key: str | None, row: list, http: Patient) -> list[Outcome]:
    """Every check, in order, each reported even when an earlier one failed."""
    outcomes = []
    for name, check in CHECKS:
        try:
            ok, detail = check(http, endpoint, key, row)
        except Unreachable as exc:
            ok, detail = False, str(exc)
        except requests.RequestException as exc:
            ok, detail = False, f"request failed: {exc}"
        outcomes.append(Outcome(name, ok, detail))
    return outcomes
