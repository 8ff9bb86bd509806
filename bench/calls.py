"""Timed run() calls of one entry script, importable by the benchmark's worker processes."""

import importlib
import io
import os
import time

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

MODULES = {"original": "bench.original_score", "ours": "scoring.score"}


def setenv(environment: dict) -> None:
    """Runs first in a worker process, before XGBoost (and OpenMP) is imported."""
    os.environ.update(environment)


def percentiles(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    return ordered[len(ordered) // 2] * 1e3, ordered[int(len(ordered) * 0.99)] * 1e3


def requests_for(body: bytes, count: int, key: str) -> list:
    """Requests as the server hands them to run(); built before the clock starts."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    environ = EnvironBuilder(method="POST", headers=headers, data=body).get_environ()
    return [Request(environ | {"wsgi.input": io.BytesIO(body)}) for _ in range(count)]


def block(script: str, text: str, count: int, key: str) -> tuple[list[float], str]:
    """Seconds per run() call of one script, in a process of its own; and its last answer."""
    module = importlib.import_module(MODULES[script])
    if getattr(module, "_bench_ready", None) is None:
        module.init()
        module._bench_ready = True
    arguments = [text] * count if script == "original" else requests_for(text.encode(), count, key)
    spent = []
    for argument in arguments:
        start = time.perf_counter()
        answer = module.run(argument)
        spent.append(time.perf_counter() - start)
    return spent, answer
