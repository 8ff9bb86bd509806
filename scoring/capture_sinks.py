"""Where captured rows go (capture.py owns the queue, the sampling and the writer thread):
`records()` turns one answered request into one JSON object per row, and each writer takes a
batch of them: JSON Lines files per process and hour, or AzureML's data collection."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

log = logging.getLogger("azmlinfsrv.churn.capture")

# The collection names AzureML model monitoring reads (azureml-examples, data-collector docs).
INPUTS_COLLECTION = "model_inputs"
OUTPUTS_COLLECTION = "model_outputs"
DECISION_THRESHOLD = 0.5  # the client's default: p_leave at which the answer means "leave"


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
