"""The request contract: the columns a request carries, what each accepts, and how a body becomes
validated columns or a 4xx reason that names the row, the column and what was expected.

Two readings of a body give the same result. The fast one (msgspec, parsing and checking every
value against the contract in one pass) takes valid requests; anything it does not accept goes
to the exact one (Python's JSON parser, which refuses repeated keys and NaN, then a check row by
row), so every rule and message comes from one place whatever the fast reading does with odd
input.
"""

import json
from dataclasses import dataclass, field
from typing import Annotated, Literal, NamedTuple

import msgspec
import numpy as np

MAX_ROWS = 10_000
MAX_ERRORS_SHOWN = 20
SAMPLE_ROW = [596, "Germany", "Male", 32, 3, 96709.1, 2, 0, 0, 41788.4]
# The exact Python types a column's JSON values may have (bool is not int here).
TYPES = {
    "category": frozenset({str}),
    "integer": frozenset({int}),
    "number": frozenset({int, float}),
}


class RequestError(Exception):
    """A request the service answers with a 4xx status and a JSON reason."""

    def __init__(self, status: int, message: str, errors: list[dict] | None = None):
        super().__init__(message)
        self.status = status
        self.body: dict = {"message": message}
        if errors is not None:
            self.body["errors"] = errors[:MAX_ERRORS_SHOWN]
            self.body["error_count"] = len(errors)


@dataclass(frozen=True)
class Column:
    """What one request column accepts. Category values come from the fitted encoder."""

    name: str
    kind: str  # "integer", "number" or "category"
    low: float = 0
    high: float = 0
    categories: tuple[str, ...] = ()
    types: frozenset[type] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "types", TYPES[self.kind])  # once, not on every request

    @property
    def expected(self) -> str:
        if self.kind == "category":
            return "one of " + ", ".join(self.categories)
        if self.kind == "integer":
            return f"an integer from {self.low:g} to {self.high:g}"
        return f"a number from {self.low:g} to {self.high:g}"

    def accepts(self, value) -> bool:
        if type(value) not in self.types:
            return False
        if self.kind == "category":
            return value in self.categories
        return self.low <= value <= self.high  # False for NaN


# The request contract, in the original client's order. Ranges are plausibility bounds, wider
# than the training data; HasCrCard and IsActiveMember are checked but unused by the model.
CONTRACT = (
    Column("CreditScore", "integer", 300, 900),
    Column("Geography", "category"),
    Column("Gender", "category"),
    Column("Age", "integer", 18, 120),
    Column("Tenure", "integer", 0, 100),
    Column("Balance", "number", 0, 1e9),
    Column("NumOfProducts", "integer", 1, 10),
    Column("HasCrCard", "integer", 0, 1),
    Column("IsActiveMember", "integer", 0, 1),
    Column("EstimatedSalary", "number", 0, 1e9),
)


class Columns(NamedTuple):
    """Valid rows as columns, in contract order."""

    values: list[tuple]  # one tuple per column, one JSON value per row


def describe(value) -> str:
    """A short, non-recursive description of a client value for error messages."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value[:40] + ("..." if len(value) > 40 else ""))
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return f"an object with {len(value)} keys"
    text = repr(value) if isinstance(value, float) else str(value)[:40]
    return text if len(text) < 40 else text + "..."


def error(row: int | None, column: str | None, expected: str, got: str) -> dict:
    return {"row": row, "column": column, "expected": expected, "got": got}


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number")


def _unique_keys(pairs: list) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("an object repeats a key")
    return result


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_unique_keys)


def parse_exactly(body: bytes):
    """The body's JSON, or a 400 saying why not (the reading every message comes from)."""
    try:
        return _DECODER.decode(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise RequestError(400, "the body is not UTF-8 text") from None
    except RecursionError:
        raise RequestError(400, "the body is nested too deeply") from None
    except ValueError as ex:  # JSONDecodeError, NaN/Infinity, integers of > 4300 digits
        raise RequestError(400, f"the body is not valid JSON: {ex}") from None


def decoder(columns: list[Column]) -> tuple[msgspec.json.Decoder, type]:
    """msgspec's reading of a valid body, {"data": [row, ...]} with rows as lists or objects,
    each value of the type, range or categories of its column; and the type of object rows."""
    types = []
    for c in columns:
        if c.kind == "category":
            types.append(Literal[c.categories])  # a Literal of the column's categories
        elif c.kind == "integer":  # strict: neither bool nor 1.0 is an int
            types.append(Annotated[int, msgspec.Meta(ge=int(c.low), le=int(c.high))])
        else:  # an int is taken as a float, bool is not
            types.append(Annotated[float, msgspec.Meta(ge=c.low, le=c.high)])
    row_object = msgspec.defstruct(
        "Row", [(c.name, t) for c, t in zip(columns, types)], forbid_unknown_fields=True
    )
    rows = list[tuple[tuple(types)] | row_object]  # a list row or an object row
    envelope = msgspec.defstruct(
        "Envelope",
        [("data", Annotated[rows, msgspec.Meta(min_length=1, max_length=MAX_ROWS)])],
        forbid_unknown_fields=True,
    )
    return msgspec.json.Decoder(envelope), row_object


class Contract:
    """The contract's columns with their categories, checked against request bodies."""

    def __init__(self, columns: list[Column]):
        self.columns = list(columns)
        self.names = [c.name for c in columns]
        self.name_set = set(self.names)
        self.by_name = {c.name: c for c in columns}
        self.shape = f"a list of {len(columns)} values ({', '.join(self.names)}) or an object with those keys"
        self.numeric = [i for i, c in enumerate(columns) if c.kind != "category"]
        self.low_array = np.array([columns[i].low for i in self.numeric])
        self.high_array = np.array([columns[i].high for i in self.numeric])
        # contract position -> {category: code}
        self.lookups = {
            i: {c: code for code, c in enumerate(column.categories)}
            for i, column in enumerate(columns)
            if column.kind == "category"
        }
        self.decoder, self.row_object = decoder(columns)

    def read(self, body: bytes) -> Columns:
        """Validated columns of a request body; else a RequestError."""
        try:
            rows = self.decoder.decode(body).data
        except msgspec.DecodeError:  # not JSON, or not the contract (ValidationError)
            return self.validate(parse_exactly(body))
        # msgspec keeps the last of repeated keys: each ':' outside strings separates a key
        # from its value, and a valid body has no ':' inside its strings.
        colons = body.count(b":")
        if colons != 1:
            objects = sum(type(r) is self.row_object for r in rows)
            if colons != 1 + len(self.names) * objects:
                return self.validate(parse_exactly(body))
            rows = [r if type(r) is tuple else msgspec.structs.astuple(r) for r in rows]
        return Columns(list(zip(*rows)))

    def validate(self, payload) -> Columns:
        """Columns of a valid envelope; else a RequestError naming every problem."""
        if type(payload) is not dict or payload.keys() != {"data"}:
            got = describe(payload)
            if type(payload) is dict and payload:
                got = "keys " + ", ".join(json.dumps(str(k)[:40]) for k in list(payload)[:10])
            raise RequestError(400, "the body must be {\"data\": [row, ...]}", [
                error(None, None, 'an object with the single key "data"', got)
            ])  # fmt: skip
        rows = payload["data"]
        if type(rows) is not list or not rows:
            raise RequestError(400, '"data" must be a non-empty list of rows', [
                error(None, None, "a non-empty list of rows", describe(rows))
            ])  # fmt: skip
        if len(rows) > MAX_ROWS:
            raise RequestError(413, f"at most {MAX_ROWS} rows per request, got {len(rows)}")
        valid = self.as_columns(rows)
        if valid is not None:
            return valid
        errors = self.diagnose(rows)
        problems = f"{len(errors)} problem{'s' if len(errors) > 1 else ''}"
        raise RequestError(400, f"{problems} in the rows; nothing was scored", errors)

    def as_columns(self, rows: list) -> Columns | None:
        """Whole columns checked at once; None if any row or value is invalid."""
        names = self.names
        kinds = set(map(type, rows))
        if kinds != {list}:  # objects with exactly the columns become lists
            rows = [
                [r[n] for n in names] if type(r) is dict and r.keys() == self.name_set else r
                for r in rows
            ]
            kinds = set(map(type, rows))
        if kinds != {list} or set(map(len, rows)) != {len(names)}:
            return None
        values = list(zip(*rows))
        for column, found in zip(self.columns, values):
            if not set(map(type, found)) <= column.types:
                return None
        for i, lookup in self.lookups.items():
            if not set(values[i]) <= lookup.keys():
                return None
        try:
            numbers = np.array([values[i] for i in self.numeric], np.float64)
        except OverflowError:  # an integer beyond float range
            return None
        if (
            not (self.low_array <= numbers.min(axis=1)).all()
            or not (numbers.max(axis=1) <= self.high_array).all()
        ):  # inf too
            return None
        return Columns(values)

    def diagnose(self, rows: list) -> list[dict]:
        """Every violation, row by row (the slow path, taken only for invalid requests)."""
        names, by_name = self.names, self.by_name
        errors = []
        for number, row in enumerate(rows):
            if type(row) is dict:
                for key in row:
                    if key not in by_name:
                        errors.append(error(number, key[:40], "no such column", describe(row[key])))
                for name in names:
                    if name not in row:
                        errors.append(error(number, name, by_name[name].expected, "nothing"))
                values = [(by_name[n], row[n]) for n in names if n in row]
            elif type(row) is list and len(row) == len(names):
                values = list(zip(self.columns, row))
            else:
                errors.append(error(number, None, self.shape, describe(row)))
                continue
            for column, value in values:
                if not column.accepts(value):
                    errors.append(error(number, column.name, column.expected, describe(value)))
        return errors
