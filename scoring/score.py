"""Entry script of the churn scoring service, run by the AzureML inference server (azmlinfsrv).

init() finds the artifacts under AZUREML_MODEL_DIR, checks their hashes and the library
versions against manifest.json, derives a fast path from the fitted pipeline and trees, and
refuses to start unless that fast path agrees with scikit-learn + XGBoost on probe rows.

run() takes the original request, {"data": [[CreditScore, Geography, ...], ...]} (rows may
also be objects keyed by column name), and returns what the original returned: the JSON text of
[[p_stay, p_leave], ...]. Bad requests get a 4xx JSON body naming the row, the column and what
was expected; nothing a client sends can cause a 500.

Environment: CHURN_SCORING_KEY is the key clients send as `Authorization: Bearer <key>`;
CHURN_REQUIRE_KEY=false turns the check off, for endpoints whose gateway checks keys (AKS) and
for local use. Without either, init() refuses to start: authentication is never off by default.
"""

import hashlib
import hmac
import importlib
import json
import logging
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from azureml_inference_server_http.api.aml_request import rawhttp
from azureml_inference_server_http.api.aml_response import AMLResponse

# A child of the server's logger, so that lines reach the handlers azmlinfsrv configures.
log = logging.getLogger("azmlinfsrv.churn")

MANIFEST_FILE = "manifest.json"
PIPELINE_FILE = "pipeline_processing.pkl"
CLASSIFIER_FILE = "modelML2.ubj"
# Import names of the libraries manifest.json pins (distribution name -> module).
MODULES = {"scikit-learn": "sklearn", "xgboost": "xgboost", "numpy": "numpy"}
MODULES |= {"pandas": "pandas", "joblib": "joblib"}

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_ROWS = 10_000
# A client that stops sending its body gets 408 instead of holding a worker until gunicorn
# kills it (WORKER_TIMEOUT), which would also answer it with an HTML 500.
BODY_TIMEOUT_S = 10
MAX_ERRORS_SHOWN = 20
# From this many rows on, XGBoost's own predictor beats the numpy tree walk (its fixed cost is
# ~0.25 ms a call, the walk's is ~0.03 ms, the walk's cost per row is ~2.5x XGBoost's).
BATCH_ROWS = 128
TOLERANCE = 1e-6
KEY_ENV = "CHURN_SCORING_KEY"
REQUIRE_ENV = "CHURN_REQUIRE_KEY"
MIN_KEY_LENGTH = 16

SAMPLE_ROW = [596, "Germany", "Male", 32, 3, 96709.1, 2, 0, 0, 41788.4]
# The exact Python types a column's JSON values may have (bool is not int here).
TYPES = {
    "category": frozenset({str}),
    "integer": frozenset({int}),
    "number": frozenset({int, float}),
}


class StartupError(RuntimeError):
    """The service must not start: artifacts, libraries or settings are wrong."""


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


class Scorer:
    """Validation, preprocessing and trees derived from the fitted artifacts."""

    def __init__(self, pipeline, booster, features: list[str]):
        if features != [c.name for c in CONTRACT]:
            raise StartupError(
                f"manifest.json lists the features {features}, but this script serves "
                f"{[c.name for c in CONTRACT]}"
            )
        self.columns = list(CONTRACT)
        self.names = list(features)
        self.name_set = set(features)
        self.shape = (
            f"a list of {len(features)} values ({', '.join(features)}) or an object with those keys"
        )
        self.numeric = [i for i, c in enumerate(CONTRACT) if c.kind != "category"]
        self.low = np.array([[CONTRACT[i].low] for i in self.numeric])
        self.high = np.array([[CONTRACT[i].high] for i in self.numeric])
        self.lookups: dict[int, dict[str, int]] = {}  # column -> {category: code}
        self._derive_preprocessing(pipeline)
        self.by_name = {c.name: c for c in self.columns}  # with the encoders' categories
        self._derive_trees(booster)
        self.booster = booster
        booster.set_param({"nthread": 1})  # server workers, not threads, use the cores

    # -- derivation from the artifacts --------------------------------------------------------

    def _derive_preprocessing(self, pipeline) -> None:
        from sklearn.compose import ColumnTransformer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        steps = pipeline.steps if isinstance(pipeline, Pipeline) else [(None, pipeline)]
        if len(steps) != 1 or not isinstance(steps[0][1], ColumnTransformer):
            raise StartupError("the preprocessing pipeline must hold exactly one ColumnTransformer")
        transformer = steps[0][1]
        index = {c.name: i for i, c in enumerate(self.columns)}
        self.width = max(s.stop for s in transformer.output_indices_.values())
        self.onehot: list[tuple[int, np.ndarray, slice]] = []  # column, table, output slice
        self.scaled: tuple[list[int], np.ndarray, np.ndarray, slice] | None = None
        for name, step, used in transformer.transformers_:
            where = transformer.output_indices_[name]
            if step == "drop" or where.start == where.stop:
                continue
            if not set(used) <= set(index):
                raise StartupError(f"the preprocessing step {name!r} reads unknown columns {used}")
            if isinstance(step, OneHotEncoder) and not step._infrequent_enabled:
                self._derive_onehot(step, used, index, where)
            elif isinstance(step, StandardScaler) and self.scaled is None:
                mean = step.mean_ if step.with_mean else np.zeros(len(used))
                scale = step.scale_ if step.with_std else np.ones(len(used))
                kinds = {self.columns[index[c]].kind for c in used}
                if kinds - {"integer", "number"}:
                    raise StartupError(f"scaled columns {used} must all be numeric")
                self.scaled = ([self.numeric.index(index[c]) for c in used], mean, scale, where)
            else:
                raise StartupError(f"no fast path for the preprocessing step {name!r}: {step!r}")
        unencoded = [c.name for c in self.columns if c.kind == "category" and not c.categories]
        if unencoded:
            raise StartupError(f"the preprocessing pipeline does not encode {unencoded}")

    def _derive_onehot(self, encoder, used, index, where: slice) -> None:
        start = where.start
        for position, name in enumerate(used):
            column = self.columns[index[name]]
            categories = tuple(encoder.categories_[position])
            if column.kind != "category" or not all(isinstance(c, str) for c in categories):
                raise StartupError(f"{name} is one-hot encoded but is not a text category")
            table = np.eye(len(categories))
            dropped = None if encoder.drop_idx_ is None else encoder.drop_idx_[position]
            if dropped is not None:
                table = np.delete(table, dropped, axis=1)
            self.columns[index[name]] = Column(name, "category", categories=categories)
            self.lookups[index[name]] = {c: code for code, c in enumerate(categories)}
            self.onehot.append((index[name], table, slice(start, start + table.shape[1])))
            start += table.shape[1]
        if start != where.stop:
            raise StartupError("the one-hot encoder's output width is not the one derived")

    def _derive_trees(self, booster) -> None:
        """Lay every tree out as a complete binary tree, one array per level."""
        model = json.loads(booster.save_raw("json"))["learner"]
        trees = model["gradient_booster"]["model"]["trees"]
        params = model["learner_model_param"]
        if (
            model["objective"]["name"] != "binary:logistic"
            or model["gradient_booster"]["name"] != "gbtree"
            or params["num_class"] != "0"
            or params["num_target"] != "1"
            or any(any(t["split_type"]) for t in trees)
        ):
            raise StartupError("no fast path for this XGBoost model: expected binary gbtree")
        if int(params["num_feature"]) != self.width:
            raise StartupError(f"the classifier expects {params['num_feature']} features")

        def depth(tree, node=0) -> int:
            left = tree["left_children"][node]
            if left == -1:
                return 0
            return 1 + max(depth(tree, left), depth(tree, tree["right_children"][node]))

        self.depth = max(depth(t) for t in trees)
        count = len(trees)
        feature = [np.zeros(count << d, np.intp) for d in range(self.depth)]
        threshold = [np.full(count << d, np.inf, np.float32) for d in range(self.depth)]
        leaves = np.zeros(count << self.depth, np.float32)

        def lay_out(tree, node: int, slot: int, level: int) -> None:
            if tree["left_children"][node] == -1:  # a leaf: repeat it down to the last level
                span = 1 << (self.depth - level)
                leaves[slot * span : (slot + 1) * span] = tree["split_conditions"][node]
                return  # the infinite thresholds left in place route to the first copy
            feature[level][slot] = tree["split_indices"][node]
            threshold[level][slot] = tree["split_conditions"][node]
            lay_out(tree, tree["left_children"][node], 2 * slot, level + 1)
            lay_out(tree, tree["right_children"][node], 2 * slot + 1, level + 1)

        for number, tree in enumerate(trees):
            lay_out(tree, 0, number, 0)
        self.feature, self.threshold, self.leaves = feature, threshold, leaves
        self.tree_ids = np.arange(count, dtype=np.intp)
        base = np.float32(params["base_score"].strip("[]"))
        self.bias = -np.log(np.float32(1) / base - np.float32(1))  # logit, as XGBoost does

    # -- scoring ------------------------------------------------------------------------------

    def features(self, numbers: np.ndarray, codes: dict[int, np.ndarray]) -> np.ndarray:
        """The preprocessing pipeline's output for validated rows."""
        out = np.empty((numbers.shape[1], self.width), np.float64)
        for position, table, where in self.onehot:
            out[:, where] = table[codes[position]]
        if self.scaled is not None:
            used, mean, scale, where = self.scaled
            out[:, where] = (numbers[used].T - mean) / scale
        return out

    def walk(self, x: np.ndarray) -> np.ndarray:
        """P(leave) per row: XGBoost's float32 tree walk and sum, in numpy."""
        x = np.ascontiguousarray(x, np.float32)
        rows = (np.arange(x.shape[0], dtype=np.intp) * x.shape[1])[:, None]
        flat = x.ravel()
        slot = np.broadcast_to(self.tree_ids, (x.shape[0], len(self.tree_ids)))
        for feature, threshold in zip(self.feature, self.threshold):
            right = flat.take(feature.take(slot) + rows) >= threshold.take(slot)
            slot = slot * 2 + right
        terms = np.empty((x.shape[0], slot.shape[1] + 1), np.float32)
        terms[:, 0] = self.bias
        self.leaves.take(slot, out=terms[:, 1:])
        margin = np.cumsum(terms, axis=1, dtype=np.float32)[:, -1]  # in tree order, as XGBoost
        return np.float32(1) / (np.float32(1) + np.exp(-margin.astype(np.float64)).astype("f4"))

    def proba(self, numbers: np.ndarray, codes: dict[int, np.ndarray]) -> np.ndarray:
        x = self.features(numbers, codes)
        return pairs(self.walk(x) if len(x) < BATCH_ROWS else self.booster.inplace_predict(x))

    # -- validation ---------------------------------------------------------------------------

    def validate(self, payload) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """Numeric columns and category codes of a valid envelope; else a RequestError."""
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
        names = self.names
        kinds = set(map(type, rows))
        if kinds != {list}:  # objects with exactly the columns become lists
            rows = [
                [r[n] for n in names] if type(r) is dict and r.keys() == self.name_set else r
                for r in rows
            ]
            kinds = set(map(type, rows))
        if kinds == {list} and set(map(len, rows)) == {len(names)}:
            valid = self.as_arrays(list(zip(*rows)))
            if valid is not None:
                return valid
        errors = self.diagnose(payload["data"])
        problems = f"{len(errors)} problem{'s' if len(errors) > 1 else ''}"
        raise RequestError(400, f"{problems} in the rows; nothing was scored", errors)

    def as_arrays(self, values: list[tuple]) -> tuple[np.ndarray, dict] | None:
        """Whole columns checked at once (the fast path); None if any value is invalid."""
        if not all(set(map(type, v)) <= c.types for c, v in zip(self.columns, values)):
            return None
        codes = {i: list(map(lookup.get, values[i])) for i, lookup in self.lookups.items()}
        if any(None in c for c in codes.values()):
            return None
        try:
            numbers = np.array([values[i] for i in self.numeric], np.float64)
        except OverflowError:  # an integer beyond float range
            return None
        if not ((numbers >= self.low) & (numbers <= self.high)).all():  # also rejects inf
            return None
        return numbers, {i: np.array(c, np.intp) for i, c in codes.items()}

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

    def score(self, body: bytes) -> str:
        """The JSON text of [[p_stay, p_leave], ...] for a request body."""
        try:
            payload = _DECODER.decode(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise RequestError(400, "the body is not UTF-8 text") from None
        except RecursionError:
            raise RequestError(400, "the body is nested too deeply") from None
        except ValueError as ex:  # JSONDecodeError, NaN/Infinity, integers of > 4300 digits
            raise RequestError(400, f"the body is not valid JSON: {ex}") from None
        return json.dumps(self.proba(*self.validate(payload)).tolist())


def pairs(leave: np.ndarray) -> np.ndarray:
    """[[p_stay, p_leave], ...] in float32, as XGBClassifier.predict_proba computes them."""
    return np.column_stack((np.float32(1) - leave, leave))


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number")


def _unique_keys(pairs: list) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("an object repeats a key")
    return result


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_unique_keys)


# -- start-up ---------------------------------------------------------------------------------


def refuse(message: str) -> StartupError:
    log.error("refusing to start: %s", message)
    return StartupError(message)


def find_artifacts(model_dir: str | None) -> Path:
    """AzureML mounts a folder model at <dir> or at <dir>/<folder name>."""
    if not model_dir:
        raise refuse("AZUREML_MODEL_DIR is not set")
    root = Path(model_dir)
    if (root / MANIFEST_FILE).is_file():
        return root
    found = sorted(p for p in root.glob(f"*/{MANIFEST_FILE}"))
    if len(found) != 1:
        where = f"{len(found)} of its folders" if found else "it or any folder in it"
        raise refuse(f"expected one {MANIFEST_FILE} in {root} or one level below; {where} has one")
    return found[0].parent


def read_verified(folder: Path, manifest: dict) -> dict[str, bytes]:
    """Every artifact the manifest lists, read once and returned only if its sha256 matches."""
    listed = manifest.get("artifacts", {})
    for name in {PIPELINE_FILE, CLASSIFIER_FILE} - listed.keys():
        raise refuse(f"{MANIFEST_FILE} has no hash for {name}")
    for name in listed:
        if Path(name).name != name or name in (".", ".."):
            raise refuse(f"{MANIFEST_FILE} lists {name!r}, which is not a file name")
    return {name: read_one(folder / name, expected) for name, expected in listed.items()}


def read_one(path: Path, expected: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as ex:
        raise refuse(f"cannot read {path}: {ex.strerror}") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise refuse(f"{path} has sha256 {actual}, {MANIFEST_FILE} says {expected}")
    return data


def check_versions(pinned: dict) -> None:
    python = ".".join(platform.python_version_tuple()[:2])
    wanted = ".".join(str(pinned.get("python", "")).split(".")[:2])
    mismatches = [] if python == wanted else [f"python {python} (artifacts need {wanted})"]
    for name, version in pinned.items():
        if name == "python":
            continue
        if name not in MODULES:
            raise refuse(f"{MANIFEST_FILE} pins {name}, which this script cannot check")
        running = importlib.import_module(MODULES[name]).__version__
        if running != version:
            mismatches.append(f"{name} {running} (artifacts need {version})")
    if mismatches:
        raise refuse("library versions differ from the pinned ones: " + "; ".join(mismatches))


def probe_rows(scorer: Scorer, count: int = 256) -> list[list]:
    """Deterministic valid rows spread over every column's range, plus the sample."""
    rng = np.random.default_rng(0)
    rows = [list(SAMPLE_ROW)]
    for _ in range(count):
        row = []
        for column in scorer.columns:
            if column.kind == "category":
                row.append(column.categories[rng.integers(len(column.categories))])
            elif column.kind == "integer":
                row.append(int(rng.integers(column.low, column.high + 1)))
            else:  # log-uniform, so that small and large amounts are both probed
                value = column.low + np.expm1(rng.uniform(0, np.log1p(column.high - column.low)))
                row.append(min(round(float(value), 2), column.high))
        rows.append(row)
    return rows


def check_against_reference(scorer: Scorer, pipeline, classifier) -> float:
    """Largest difference between the fast paths and scikit-learn + XGBoost on probe rows."""
    import pandas as pd

    rows = probe_rows(scorer)
    frame = pd.DataFrame(rows, columns=[c.name for c in scorer.columns])
    expected = classifier.predict_proba(pipeline.transform(frame))
    x = scorer.features(*scorer.validate({"data": rows}))
    difference = max(
        float(np.abs(pairs(leave) - expected).max())
        for leave in (scorer.walk(x), scorer.booster.inplace_predict(x))
    )
    if not difference <= TOLERANCE:
        raise refuse(f"the fast path differs from the reference by {difference:.2e}")
    return difference


def load(model_dir: str | None) -> tuple[Scorer, dict]:
    import xgboost as xgb

    # Beside the entry script under azmlinfsrv (AML_APP_ROOT is on sys.path), else scoring.safe_load.
    safe_load = importlib.import_module(f"{__package__}.safe_load" if __package__ else "safe_load")

    folder = find_artifacts(model_dir)
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text())
    except (OSError, ValueError) as ex:
        raise refuse(f"cannot read {folder / MANIFEST_FILE}: {ex}") from None
    check_versions(manifest.get("libraries", {}))
    artifacts = read_verified(folder, manifest)  # before any of them is loaded
    pipeline = safe_load.load(artifacts, refuse)  # never the pickle: scoring/safe_load.py
    classifier = xgb.XGBClassifier()
    classifier.load_model(bytearray(artifacts[CLASSIFIER_FILE]))
    booster = classifier.get_booster()
    try:
        scorer = Scorer(pipeline, booster, manifest.get("features"))
    except StartupError as ex:
        raise refuse(str(ex)) from None
    difference = check_against_reference(scorer, pipeline, classifier)
    log.info(
        "model %s version %s loaded from %s; fast path within %.1e of the reference",
        manifest.get("name"),
        manifest.get("version"),
        folder,
        difference,
    )
    return scorer, manifest


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
    return key.encode()


_scorer: Scorer | None = None
_key: bytes | None = None


def init() -> None:
    global _scorer, _key
    _key = read_key()
    _scorer, _ = load(os.environ.get("AZUREML_MODEL_DIR"))


# -- requests ---------------------------------------------------------------------------------


def authorized(header: str | None) -> bool:
    scheme, _, token = (header or "").partition(" ")
    given = token.strip().encode("utf-8", "surrogatepass")
    return scheme.lower() == "bearer" and hmac.compare_digest(given, _key)


def read_body(stream) -> bytes:
    """At most MAX_BODY_BYTES of the body; 413 beyond that, without reading the rest."""
    chunks, size = [], 0
    while chunk := stream.read(MAX_BODY_BYTES + 1 - size):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestError(413, f"the body exceeds {MAX_BODY_BYTES} bytes")
    return b"".join(chunks)


def answer(request) -> str:
    if _key is not None and not authorized(request.headers.get("Authorization")):
        raise RequestError(401, "send the service key as 'Authorization: Bearer <key>'")
    if request.method != "POST":
        raise RequestError(405, "send the rows with POST")
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise RequestError(413, f"the body exceeds {MAX_BODY_BYTES} bytes")
    if not request.is_json:
        raise RequestError(415, "send the body as Content-Type: application/json")
    client = request.environ.get("gunicorn.socket")
    if client is not None:
        client.settimeout(BODY_TIMEOUT_S)
    try:
        body = read_body(request.stream)
    except OSError:  # TimeoutError from the socket
        raise RequestError(408, f"the body did not arrive within {BODY_TIMEOUT_S} s") from None
    return _scorer.score(body)


HEADERS = {401: {"WWW-Authenticate": "Bearer"}, 405: {"Allow": "POST"}}


@rawhttp
def run(request):
    """Score a request: the JSON text of [[p_stay, p_leave], ...], or a 4xx AMLResponse."""
    if request.method == "OPTIONS":  # CORS preflight, answered like the server does
        return AMLResponse("", 200)
    try:
        return answer(request)
    except RequestError as ex:
        if ex.status != 401:
            log.info("rejected a request with %d: %s", ex.status, ex)
        return AMLResponse(ex.body, ex.status, HEADERS.get(ex.status, {}), json_str=True)
