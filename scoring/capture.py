"""Capture of what the service scores, off the request's path.

The entry script calls start(manifest) once in init() and record(body, answer) after each
successful score. record() only decides the sampling, stamps the time and the request id, and
puts the raw body and answer on a bounded queue; a background thread turns them into one JSON
object per row (the ten inputs by column, p_leave, the decision, the request id, the time, the
model version and the deployment name; never a header, never the key) and hands them to:

- JSON Lines files under CHURN_CAPTURE_DIR, one file per process and hour, in folders
  YYYY/MM/DD/HH (dev on ACI: an Azure Files share; local: any folder). Unset = off.
- AzureML's data collection (azureml-ai-monitoring's Collector, collections model_inputs and
  model_outputs), when the deployment turned it on (AZUREML_MDC_* variables set by AzureML).

A full queue drops the request's rows and counts them; a failing writer logs and counts. Neither
ever blocks, slows down or fails a request.

Environment: CHURN_CAPTURE_DIR, CHURN_CAPTURE_SAMPLING (share of requests captured, 0-1,
default 1), CHURN_CAPTURE_RETENTION_DAYS (hour folders older than this are deleted by the
writer: Azure Files has no lifecycle rules), CHURN_DEPLOYMENT (the name written in each record).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import random
import threading
import time
from pathlib import Path

try:  # beside the entry script, as the server loads it; else as scoring.capture
    from capture_sinks import (
        DECISION_THRESHOLD,
        INPUTS_COLLECTION,
        OUTPUTS_COLLECTION,
        CollectorWriter,
        JsonLinesWriter,
        records,
    )
except ImportError:
    from scoring.capture_sinks import (
        DECISION_THRESHOLD,
        INPUTS_COLLECTION,
        OUTPUTS_COLLECTION,
        CollectorWriter,
        JsonLinesWriter,
        records,
    )

# Re-exported: the records and writers are part of what this module offers its callers.
__all__ = [
    "DECISION_THRESHOLD", "INPUTS_COLLECTION", "OUTPUTS_COLLECTION", "Capture", "CaptureError",
    "CollectorWriter", "JsonLinesWriter", "record", "records", "start",
]  # fmt: skip

log = logging.getLogger("azmlinfsrv.churn.capture")

DIR_ENV = "CHURN_CAPTURE_DIR"
SAMPLING_ENV = "CHURN_CAPTURE_SAMPLING"
RETENTION_ENV = "CHURN_CAPTURE_RETENTION_DAYS"
QUEUE_ENV = "CHURN_CAPTURE_QUEUE"
DEPLOYMENT_ENV = "CHURN_DEPLOYMENT"
# AzureML sets these on a deployment whose data collection is on (azureml-ai-monitoring's
# config.loadConfig reads the same two).
MDC_ENVS = ("AZUREML_MDC_CONFIG_PATH", "AZUREML_MDC_ENABLED")

DEFAULT_QUEUE = 1000  # requests, not rows
LOG_EVERY_S = 60
# The writer wakes this often and takes everything queued, rather than once a request: a thread
# woken per request takes the GIL from the request thread each time (29% fewer single-row
# requests/s on one worker, against none measurable this way).
FLUSH_S = 0.2


class CaptureError(RuntimeError):
    """The capture settings are wrong: the service must not start with them."""


def _request_id() -> str:
    try:
        from flask import g

        return g.get("request_id") or ""
    except RuntimeError:  # outside a request (in-process calls)
        return ""


class Capture:
    """The bounded queue, the sampling and the background writer of one process."""

    def __init__(self, make_writers, features, model: dict, sampling=1.0, capacity=DEFAULT_QUEUE):
        self.make_writers = make_writers  # called in the writer thread, after any fork
        self.features = list(features)
        self.model = model
        self.sampling = sampling
        self.capacity = capacity
        self.counts = {"captured": 0, "dropped": 0, "failed": 0}
        self._last_log = 0.0
        self._start()
        os.register_at_fork(after_in_child=self._start)  # threads do not survive a fork
        atexit.register(self.stop)

    def _start(self) -> None:
        self.queue: queue.Queue = queue.Queue(self.capacity)
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._drain, name="churn-capture", daemon=True)
        self.thread.start()  # idle until the first record; a forked child starts its own

    def record(self, body: bytes, answer: str) -> None:
        """Queue one answered request; never raises, never waits."""
        try:
            if self.sampling < 1 and random.random() >= self.sampling:
                return
            self.queue.put_nowait((time.time(), _request_id(), body, answer))
        except queue.Full:
            self.counts["dropped"] += 1
            self._report("queue full")
        except Exception:  # a bug here must not reach the request
            self.counts["failed"] += 1
            log.exception("could not queue a capture")

    def _drain(self) -> None:
        writers = None
        while True:
            self.wake.wait(FLUSH_S)
            items = []
            with contextlib.suppress(queue.Empty):
                while True:
                    items.append(self.queue.get_nowait())
            if not items:
                continue
            stop = None in items
            items = [i for i in items if i is not None]
            try:
                if writers is None:
                    writers = self.make_writers()
                batch = [r for item in items for r in records(item, self.features, self.model)]
                for writer in writers:
                    writer.write(batch)
                self.counts["captured"] += len(batch)
            except Exception as ex:  # noqa: BLE001 - counted and logged; the thread goes on
                self.counts["failed"] += len(items)
                self._report(f"writing failed: {ex!r}")
            finally:
                for _ in range(len(items) + stop):
                    self.queue.task_done()
            if stop:
                for writer in writers or ():
                    with contextlib.suppress(Exception):
                        writer.close()
                return

    def _report(self, why: str) -> None:
        now = time.monotonic()
        if now - self._last_log >= LOG_EVERY_S:
            self._last_log = now
            log.warning("capture: %s; so far %s", why, self.counts)

    def stop(self, timeout: float = 5.0) -> None:
        """Writes what is queued (waiting at most `timeout` for room), then ends the thread."""
        if not self.thread.is_alive():
            return
        with contextlib.suppress(queue.Full):
            self.queue.put(None, timeout=timeout)
            self.wake.set()
            self.thread.join(timeout)
        log.info("capture stopped: %s", self.counts)


def _number(name: str, text: str, low: float, high: float | None, kind=float) -> float:
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= (high if high is not None else float("inf")):
        bound = f"from {low:g} to {high:g}" if high is not None else f"of at least {low:g}"
        raise CaptureError(f"{name} must be a number {bound}, not {text!r}")
    return value


_capture: Capture | None = None


def start(manifest: dict, environ=os.environ) -> Capture | None:
    """The capture the environment asks for (None when off); CaptureError on bad settings."""
    global _capture
    folder = environ.get(DIR_ENV, "").strip()
    azureml = any(environ.get(name, "").strip() not in ("", "false") for name in MDC_ENVS)
    sampling = _number(SAMPLING_ENV, environ.get(SAMPLING_ENV, "1"), 0, 1)
    capacity = int(_number(QUEUE_ENV, environ.get(QUEUE_ENV, str(DEFAULT_QUEUE)), 1, None, int))
    retention = environ.get(RETENTION_ENV)
    days = None if retention is None else int(_number(RETENTION_ENV, retention, 1, None, int))
    if not folder and not azureml:
        log.info("capture is off: set %s to capture scored rows", DIR_ENV)
        return None
    features = manifest["features"]

    def make_writers() -> list:
        writers: list = [JsonLinesWriter(Path(folder), days)] if folder else []
        return writers + ([CollectorWriter(features)] if azureml else [])

    model = {
        "model": manifest.get("name"),
        "model_version": manifest.get("version"),
        "deployment": environ.get(DEPLOYMENT_ENV, "local"),
    }
    _capture = Capture(make_writers, features, model, sampling, capacity)
    where = " and ".join([f"files under {folder}"] * bool(folder) + ["AzureML"] * azureml)
    log.info("capturing %g of requests to %s", sampling, where)
    return _capture


def record(body: bytes, answer: str) -> None:
    if _capture is not None:
        _capture.record(body, answer)
