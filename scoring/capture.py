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
import shutil
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

log = logging.getLogger("azmlinfsrv.churn.capture")

DIR_ENV = "CHURN_CAPTURE_DIR"
SAMPLING_ENV = "CHURN_CAPTURE_SAMPLING"
RETENTION_ENV = "CHURN_CAPTURE_RETENTION_DAYS"
QUEUE_ENV = "CHURN_CAPTURE_QUEUE"
DEPLOYMENT_ENV = "CHURN_DEPLOYMENT"
# AzureML sets these on a deployment whose data collection is on (azureml-ai-monitoring's
# config.loadConfig reads the same two).
MDC_ENVS = ("AZUREML_MDC_CONFIG_PATH", "AZUREML_MDC_ENABLED")
# The collection names AzureML model monitoring reads (azureml-examples, data-collector docs).
INPUTS_COLLECTION = "model_inputs"
OUTPUTS_COLLECTION = "model_outputs"

DEFAULT_QUEUE = 1000  # requests, not rows
DECISION_THRESHOLD = 0.5  # the client's default: p_leave at which the answer means "leave"
LOG_EVERY_S = 60
# The writer wakes this often and takes everything queued, rather than once a request: a thread
# woken per request takes the GIL from the request thread each time (29% fewer single-row
# requests/s on one worker, against none measurable this way).
FLUSH_S = 0.2


class CaptureError(RuntimeError):
    """The capture settings are wrong: the service must not start with them."""


def decision(p_leave: float) -> str:
    return "leave" if p_leave >= DECISION_THRESHOLD else "stay"


def records(item: tuple, features: list[str], model: dict) -> list[dict]:
    """One JSON object per scored row of a request that the service answered with 200."""
    stamp, request_id, body, answer = item
    rows = orjson.loads(body)["data"]  # what the contract accepted, so plain JSON
    pairs = orjson.loads(answer)
    when = datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds")
    out = []
    for number, (row, (_, p_leave)) in enumerate(zip(rows, pairs, strict=True)):
        values = row if isinstance(row, list) else [row[name] for name in features]
        out.append(
            {"time": when, "request_id": request_id, "row": number}
            | dict(zip(features, values, strict=True))
            | {"p_leave": p_leave, "decision": decision(p_leave)}
            | model
        )
    return out


class JsonLinesWriter:
    """Appends records to <folder>/YYYY/MM/DD/HH/<host>-<pid>.jsonl, a new file each hour."""

    def __init__(self, folder: Path, retention_days: int | None):
        self.folder = folder
        self.name = f"{socket.gethostname()}-{os.getpid()}.jsonl"
        self.retention_days = retention_days
        self.hour: str | None = None
        self.path = folder / self.name
        self.file = None

    def write(self, batch: list[dict]) -> None:
        if self.file is not None and not self.path.exists():  # deleted under us: open anew
            self.hour = None
        for record in batch:
            hour = record["time"][:13]  # YYYY-MM-DDTHH
            if hour != self.hour:
                self._rotate(hour)
            assert self.file is not None
            self.file.write(orjson.dumps(record) + b"\n")
        if self.file is not None:
            self.file.flush()

    def _rotate(self, hour: str) -> None:
        self.close()
        folder = self.folder / hour[:10].replace("-", "/") / hour[11:13]
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / self.name
        self.file = self.path.open("ab")
        self.hour = hour
        if self.retention_days is not None:
            self.prune(datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC))

    def prune(self, now: datetime) -> None:
        """Deletes the hour folders older than the retention (and day folders left empty)."""
        assert self.retention_days is not None
        oldest = now - timedelta(days=self.retention_days)
        for hour in self.folder.glob("[0-9]*/[0-9]*/[0-9]*/[0-9]*"):
            try:
                start = datetime.strptime("/".join(hour.parts[-4:]), "%Y/%m/%d/%H")
            except ValueError:
                continue  # not ours
            if start.replace(tzinfo=UTC) < oldest:
                shutil.rmtree(hour, ignore_errors=True)
                for parent in (hour.parent, hour.parent.parent, hour.parent.parent.parent):
                    with contextlib.suppress(OSError):
                        parent.rmdir()  # only if empty

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


class CollectorWriter:
    """AzureML data collection: inputs and outputs of each request, correlated by request id."""

    def __init__(self, features: list[str]):
        import pandas as pd
        from azureml.ai.monitoring import Collector
        from azureml.ai.monitoring.context import BasicCorrelationContext

        def failed(ex: Exception) -> None:
            log.warning("AzureML data collection failed: %s", ex)

        self.frame, self.context = pd.DataFrame, BasicCorrelationContext
        self.features = features
        self.inputs = Collector(name=INPUTS_COLLECTION, on_error=failed)
        self.outputs = Collector(name=OUTPUTS_COLLECTION, on_error=failed)

    def write(self, batch: list[dict]) -> None:
        by_request: dict[str, list[dict]] = {}
        for record in batch:
            by_request.setdefault(record["request_id"], []).append(record)
        for request_id, rows in by_request.items():
            stamp = int(datetime.fromisoformat(rows[0]["time"]).timestamp())
            context = self.context(id=request_id, timestamp=stamp)
            self.inputs.collect(self.frame([[r[f] for f in self.features] for r in rows],
                                           columns=self.features), context)  # fmt: skip
            self.outputs.collect(self.frame([[r["p_leave"], r["decision"]] for r in rows],
                                            columns=["p_leave", "decision"]), context)  # fmt: skip

    def close(self) -> None:
        pass


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
