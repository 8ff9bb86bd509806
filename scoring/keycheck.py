"""The key check: which key clients must send as `Authorization: Bearer <key>`, read once from
the environment at start-up, and the constant-time comparison of each request's header.

CHURN_SCORING_KEY is the key; CHURN_REQUIRE_KEY=false turns the check off, for endpoints whose
gateway checks keys (AKS) and for local use. Without either the service refuses to start:
authentication is never off by default.
"""

import hmac
import logging
import os

from artifacts import refuse

log = logging.getLogger("azmlinfsrv.churn")

KEY_ENV = "CHURN_SCORING_KEY"
REQUIRE_ENV = "CHURN_REQUIRE_KEY"
MIN_KEY_LENGTH = 16


def read_key() -> bytes | None:
    """The key clients must send, or None when authentication is explicitly off."""
    required = os.environ.get(REQUIRE_ENV, "true")
    key = os.environ.get(KEY_ENV, "").strip()
    if required == "false":
        if key:
            raise refuse(f"{REQUIRE_ENV}=false contradicts the {KEY_ENV} that is set")
        log.warning(
            "authentication is off (%s=false): anyone reaching the port can score", REQUIRE_ENV
        )
        return None
    if required != "true":
        raise refuse(f"{REQUIRE_ENV} must be 'true' or 'false', not {required!r}")
    if len(key) < MIN_KEY_LENGTH:
        raise refuse(f"set {KEY_ENV} to a key of at least {MIN_KEY_LENGTH} characters")
    if not (key.isascii() and key.isprintable()):
        # HTTP header values arrive as Latin-1 text: a client could never send such a key
        raise refuse(f"{KEY_ENV} must be printable ASCII, as an HTTP header carries it")
    return key.encode()


def authorized(header: str | None, key: bytes) -> bool:
    scheme, _, token = (header or "").partition(" ")
    given = token.strip().encode("utf-8", "surrogatepass")
    return scheme.lower() == "bearer" and hmac.compare_digest(given, key)
