"""The few ARM REST calls the dynamic providers make themselves: a bearer session and the wait
for a long-running operation, bounded by an overall deadline.

ARM answers a long-running PUT or DELETE with 201/202 and an `Azure-AsyncOperation` (or
`Location`) header; polling it answers 202 while running, then 200 with `{"status": ...}` (the
async-operation URL) or 200/204 with the resource or nothing at all (the location URL).
"""

import time
from collections.abc import Callable
from typing import Any

import requests

from .arm import ARM, arm_token

TIMEOUT_S = 60  # one HTTP call
TokenSource = Callable[[], str]


class ArmError(RuntimeError):
    pass


def body_of(response: requests.Response) -> Any:
    """The JSON body, or None when there is none (ARM's 200/204 may carry no body)."""
    if not response.content.strip():
        return None
    try:
        return response.json()
    except ValueError:
        raise ArmError(
            f"{response.request.method} {response.url} answered {response.status_code} "
            f"with a body that is not JSON: {response.text[:200]!r}"
        ) from None


class ArmClient:
    """`arm`, `token`, `poll_s` and `deadline_s` are injectable so tests run against a local
    stand-in; the token is fetched at call time, so nothing secret is pickled with a provider.
    Failures raise `error`, which a provider may narrow to its own subclass."""

    error: type[ArmError] = ArmError

    def __init__(
        self,
        arm: str = ARM,
        token: TokenSource | None = None,
        poll_s: float = 10.0,
        deadline_s: float = 1800.0,
    ) -> None:
        self.arm = arm.rstrip("/")
        self.token = token
        self.poll_s = poll_s
        self.deadline_s = deadline_s

    def session(self) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {(self.token or arm_token)()}"
        return session

    def url(self, resource_id: str, api_version: str, **query: str) -> str:
        extra = "".join(f"&{k}={v}" for k, v in query.items())
        return f"{self.arm}{resource_id}?api-version={api_version}{extra}"

    def pause(self, deadline: float, what: str) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise self.error(f"{what} did not finish within {self.deadline_s:g} s")
        time.sleep(min(self.poll_s, left))

    def wait(self, session: requests.Session, response: requests.Response, what: str) -> None:
        """Follows the operation `response` started until it ends, at most `deadline_s`."""
        monitor = response.headers.get("Azure-AsyncOperation") or response.headers.get("Location")
        deadline = time.monotonic() + self.deadline_s
        while monitor:
            poll = session.get(monitor, timeout=TIMEOUT_S)
            if poll.status_code >= 400:
                raise self.error(f"{what}: polling failed ({poll.status_code}): {poll.text[:500]}")
            body = body_of(poll)
            status = body.get("status") if isinstance(body, dict) else None
            if poll.status_code == 202 or status not in (None, "Succeeded", "Failed", "Canceled"):
                self.pause(deadline, what)
                continue
            if status in ("Failed", "Canceled"):
                raise self.error(f"{what} ended {status}: {poll.text[:500]}")
            return
