"""The customers a client sends: the request's column order, the tutorial's sample customer,
and rows read from a CSV, each with the file line it came from so that errors can name it.
Standard library only, like the client."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

# Request order of the original client (the same list as training.train.FEATURES, checked in tests).
FEATURES = [
    "CreditScore",
    "Geography",
    "Gender",
    "Age",
    "Tenure",
    "Balance",
    "NumOfProducts",
    "HasCrCard",
    "IsActiveMember",
    "EstimatedSalary",
]
TEXT_FEATURES = {"Geography", "Gender"}
SAMPLE_CUSTOMER = [596, "Germany", "Male", 32, 3, 96709.1, 2, 0, 0, 41788.4]


class ClientError(Exception):
    """A failure worth one clear sentence to the user; the process exits non-zero."""


@dataclass(frozen=True)
class Rows:
    values: list[list[object]]
    lines: list[int] | None = None  # the file line of each row, for a CSV
    source: str = "the sample customer"

    def where(self, index: int) -> str:
        """`customers.csv line 7` for a CSV row, `row 3` otherwise (index from 0)."""
        if self.lines is None or not 0 <= index < len(self.lines):
            return f"row {index + 1}"
        return f"{self.source} line {self.lines[index]}"


def read_csv(path: Path) -> Rows:
    """Rows of a CSV whose header names the feature columns (extra columns are ignored), each
    with the file line it ends on, so that errors can name it."""
    rows, lines = [], []
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [name for name in FEATURES if name not in (reader.fieldnames or [])]
            if missing:
                raise ClientError(f"{path}: missing column(s) {', '.join(missing)}")
            for record in reader:
                if None in record:  # more cells than the header has names
                    raise ClientError(
                        f"{path} line {reader.line_num}: {len(reader.fieldnames or [])} columns "
                        f"in the header, more on this line"
                    )
                absent = [name for name in FEATURES if record[name] is None]
                if absent:
                    raise ClientError(
                        f"{path} line {reader.line_num}: no value for {', '.join(absent)}"
                    )
                rows.append([_cell(name, record[name]) for name in FEATURES])
                lines.append(reader.line_num)
    except OSError as exc:
        raise ClientError(f"cannot read {path}: {exc.strerror}") from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ClientError(f"{path}: not a readable CSV: {exc}") from exc
    if not rows:
        raise ClientError(f"{path}: no data rows")
    return Rows(rows, lines, str(path))


def _cell(name: str, text: str | None) -> object:
    """Numbers as numbers; anything else is sent as written and left to the server to judge."""
    value = (text or "").strip()
    if name in TEXT_FEATURES:
        return value
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def refused_rows(rows: Rows, start: int, errors: list[dict]) -> str:
    """The service's row errors, by the file line of each row: one sentence."""
    parts = []
    for error in errors[:3]:
        where = rows.where(start + error["row"])
        column = f", column {error['column']}" if error.get("column") else ""
        parts.append(f"{where}{column}: expected {error.get('expected')}, got {error.get('got')}")
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "the service refused a batch, which was not scored: " + "; ".join(parts) + more
