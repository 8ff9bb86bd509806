"""Score customers against a deployed (or local) churn endpoint and print a table.

    python -m scoring.client --endpoint http://localhost:5001/score
    python -m scoring.client --endpoint URL --key KEY --csv customers.csv
    CHURN_SCORING_KEY=KEY python -m scoring.client --endpoint URL
    python -m scoring.client --stack dev --expect stay
    python -m scoring.client --stack dev --check
    python -m scoring.client --stack prod --deployment m3-c1a2b3c4d-e5f6a7b8c

The endpoint and its key come from `--endpoint/--key` (or CHURN_SCORING_KEY), or from a Pulumi
stack's outputs (`--stack dev|prod`). `--deployment` picks one deployment of an AzureML endpoint,
whatever its traffic split; `--aad` sends an Azure AD token instead of a key.

`--check` runs the service contract against the endpoint instead, one line a check, waiting with
backoff for an endpoint that is still starting (scoring/smoke.py).

Any failure (HTTP error, time-out, malformed answer, wrong decision under `--expect`) prints one
sentence on stderr and exits non-zero, so CI can use this as a smoke test.

This module ships inside the scoring image: it imports only the standard library and requests;
azure-identity is imported only when `--aad` is given.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import requests

from .customers import (
    SAMPLE_CUSTOMER,
    ClientError,
    Rows,
    read_csv,
    refused_rows,
)

KEY_ENV = "CHURN_SCORING_KEY"  # the variable `make serve` and the service read the key from
AAD_SCOPE = "https://ml.azure.com/.default"
# AzureML routes a request carrying this header to the named deployment, bypassing the split.
DEPLOYMENT_HEADER = "azureml-model-deployment"
DEFAULT_TIMEOUT = 30.0
DEFAULT_BATCH = 500
THRESHOLD = 0.5  # the p_leave from which the decision is "leave"


class RowsRefused(ClientError):
    """The service's 400: `errors` name rows by their index in the batch."""

    def __init__(self, message: str, errors: list[dict]) -> None:
        super().__init__(message)
        self.errors = errors


@dataclass(frozen=True)
class Target:
    endpoint: str
    key: str | None


def stack_target(stack: str, cwd: Path) -> Target:
    """Endpoint and key from `pulumi stack output` of the given stack."""
    try:  # the output names the Pulumi program exports; infra/ is not in the scoring image
        from infra import outputs as names
    except ImportError as exc:
        raise ClientError("--stack works from a checkout of this repository") from exc
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise ClientError("the pulumi CLI is not on PATH; pass --endpoint/--key instead")
    command = [pulumi, "stack", "output", "--json", "--show-secrets", "--stack", stack]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = done.stderr.strip() or f"exit code {done.returncode}"
        raise ClientError(f"pulumi stack output failed for stack {stack!r}: {detail}")
    try:
        outputs = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise ClientError(f"pulumi stack output for {stack!r} is not JSON: {exc}") from exc
    if not isinstance(outputs, dict) or not isinstance(outputs.get(names.SCORING_URI), str):
        raise ClientError(f"stack {stack!r} has no {names.SCORING_URI!r} output; is it deployed?")
    key = outputs.get(names.SCORING_KEY)
    return Target(outputs[names.SCORING_URI], key if isinstance(key, str) and key else None)


def aad_token() -> str:
    """An Azure AD token for AzureML endpoints that use token auth."""
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as exc:
        raise ClientError("--aad needs azure-identity (uv sync installs it)") from exc
    try:
        return DefaultAzureCredential().get_token(AAD_SCOPE).token
    except Exception as exc:  # azure-identity raises several credential error types
        raise ClientError(f"could not get an Azure AD token: {exc}") from exc


def score(
    endpoint: str,
    rows: list[list[object]],
    token: str | None,
    timeout: float,
    deployment: str | None = None,
):
    """Post one batch; return [(p_stay, p_leave), ...] or raise ClientError."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if deployment:
        headers[DEPLOYMENT_HEADER] = deployment
    try:
        response = requests.post(
            endpoint, data=json.dumps({"data": rows}), headers=headers, timeout=timeout
        )
    except requests.Timeout as exc:
        raise ClientError(f"{endpoint} did not answer within {timeout:g} s") from exc
    except requests.RequestException as exc:
        raise ClientError(f"cannot reach {endpoint}: {exc}") from exc
    if response.status_code >= 400:
        message = f"{endpoint} answered HTTP {response.status_code}: {_excerpt(response)}"
        errors = _row_errors(response) if response.status_code == 400 else []
        raise RowsRefused(message, errors) if errors else ClientError(message)
    return parse_answer(response.text, len(rows))


def parse_answer(body: str, expected_rows: int) -> list[tuple[float, float]]:
    """The service answers a JSON string holding `[[p_stay, p_leave], ...]`."""
    try:
        inner = json.loads(body)
        pairs = json.loads(inner) if isinstance(inner, str) else None
    except json.JSONDecodeError as exc:
        raise ClientError(f"malformed answer (not JSON): {body[:200]!r}") from exc
    if not isinstance(pairs, list) or len(pairs) != expected_rows:
        raise ClientError(
            f"malformed answer: expected a JSON string holding {expected_rows} "
            f"[p_stay, p_leave] pairs, got {body[:200]!r}"
        )
    result = []
    for index, pair in enumerate(pairs, start=1):
        if not _is_probability_pair(pair):
            raise ClientError(f"malformed answer: row {index} is {pair!r}, not [p_stay, p_leave]")
        result.append((float(pair[0]), float(pair[1])))
    return result


def _is_probability_pair(pair: object) -> bool:
    if not isinstance(pair, list) or len(pair) != 2:
        return False
    if not all(isinstance(p, int | float) and not isinstance(p, bool) for p in pair):
        return False
    return all(0.0 <= p <= 1.0 for p in pair) and math.isclose(sum(pair), 1.0, abs_tol=1e-4)


def _row_errors(response: requests.Response) -> list[dict]:
    """The 400 body's `errors` that name a row, or [] if it has none."""
    try:
        body = response.json()
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return []
    return [e for e in errors if isinstance(e, dict) and isinstance(e.get("row"), int)]


def _excerpt(response: requests.Response) -> str:
    text = " ".join(response.text.split())
    return text[:300] or response.reason or "(empty body)"


def decision(p_leave: float, threshold: float) -> str:
    return "leave" if p_leave >= threshold else "stay"


def table(results: list[tuple[float, float]], threshold: float) -> str:
    lines = [f"{'row':>5}  {'p_stay':>8}  {'p_leave':>8}  decision"]
    for index, (p_stay, p_leave) in enumerate(results, start=1):
        lines.append(f"{index:>5}  {p_stay:>8.4f}  {p_leave:>8.4f}  {decision(p_leave, threshold)}")
    return "\n".join(lines)


def summary(results: list[tuple[float, float]], threshold: float) -> str:
    leave = sum(1 for _, p_leave in results if decision(p_leave, threshold) == "leave")
    return (
        f"{len(results)} rows: {len(results) - leave} stay, {leave} leave (threshold {threshold:g})"
    )


def stack_name(text: str) -> str:
    if text.rsplit("/", 1)[-1] not in ("dev", "prod"):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not dev or prod (optionally org/dev, org/prod)"
        )
    return text


def deployment_name(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{2,31}", text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a deployment name (3-32 letters, digits or hyphens, from a letter)"
        )
    return text


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scoring.client", description=__doc__.split("\n")[0]
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--endpoint", help="scoring URI, e.g. http://localhost:5001/score")
    where.add_argument(
        "--stack", type=stack_name, help="read endpoint and key from stack dev or prod ([org/]name)"
    )
    parser.add_argument(
        "--key", help=f"endpoint key, sent as 'Authorization: Bearer <key>' (default: ${KEY_ENV})"
    )
    parser.add_argument("--aad", action="store_true", help="authenticate with an Azure AD token")
    parser.add_argument(
        "--deployment",
        type=deployment_name,
        help=f"score through this deployment only (header {DEPLOYMENT_HEADER})",
    )
    parser.add_argument("--csv", type=Path, help="score these rows instead of the sample customer")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per request"
    )
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help="rows per request")
    parser.add_argument(
        "--threshold", type=float, default=THRESHOLD, help="p_leave at which to say leave"
    )
    parser.add_argument(
        "--expect", choices=["stay", "leave"], help="fail unless every row gets this decision"
    )
    parser.add_argument(
        "--check", action="store_true", help="check the service contract (see scoring/smoke.py)"
    )
    args = parser.parse_args(argv)
    if args.key and args.aad:
        parser.error("--key and --aad are alternatives; give one")
    if args.stack and args.key:
        parser.error("--stack reads the key from the stack; do not also give --key")
    if args.check and (args.csv or args.expect):
        parser.error("--check scores its own rows; do not also give --csv or --expect")
    if args.batch_size < 1 or args.timeout <= 0:
        parser.error("--batch-size and --timeout must be positive")
    return args


def check(endpoint: str, token: str | None, timeout: float) -> int:
    from . import smoke

    outcomes = smoke.run_checks(endpoint, token, SAMPLE_CUSTOMER, smoke.Patient(timeout))
    for outcome in outcomes:
        print(outcome.line())
    return 1 if any(o.ok is False for o in outcomes) else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.stack:
            target = stack_target(args.stack, Path(__file__).resolve().parent.parent)
        else:
            target = Target(args.endpoint, args.key or os.environ.get(KEY_ENV) or None)
        token = aad_token() if args.aad else target.key
        if args.check:
            return check(target.endpoint, token, args.timeout)
        rows = read_csv(args.csv) if args.csv else Rows([SAMPLE_CUSTOMER])
        results = []
        for start in range(0, len(rows.values), args.batch_size):
            batch = rows.values[start : start + args.batch_size]
            try:
                results += score(target.endpoint, batch, token, args.timeout, args.deployment)
            except RowsRefused as exc:
                raise ClientError(refused_rows(rows, start, exc.errors)) from exc
        print(table(results, args.threshold))
        print(summary(results, args.threshold))
        if args.expect:
            wrong = [
                i
                for i, (_, p) in enumerate(results, 1)
                if decision(p, args.threshold) != args.expect
            ]
            if wrong:
                raise ClientError(f"expected '{args.expect}' but row(s) {wrong} decided otherwise")
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
