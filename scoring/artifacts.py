"""Start-up: find the model folder, verify every artifact's hash and the library versions against
manifest.json before anything is loaded, load the pipeline from its skops file against an
allow-list of types (safe_load.py; nothing is unpickled), and build the fast path only if it agrees with
scikit-learn + XGBoost on probe rows. Every refusal is one `refusing to start:` log line.
"""

import hashlib
import importlib
import json
import logging
import platform
from pathlib import Path

import numpy as np
import safe_load
from contract import SAMPLE_ROW
from fastpath import NoFastPath, Scorer

# A child of the server's logger, so that lines reach the handlers azmlinfsrv configures.
log = logging.getLogger("azmlinfsrv.churn")

MANIFEST_FILE = "manifest.json"
PIPELINE_FILE = "pipeline_processing.pkl"
CLASSIFIER_FILE = "modelML2.ubj"
# Import names of the libraries manifest.json pins (distribution name -> module).
MODULES = {"scikit-learn": "sklearn", "xgboost": "xgboost", "numpy": "numpy"}
MODULES |= {"pandas": "pandas", "joblib": "joblib"}
TOLERANCE = 1e-6


class StartupError(RuntimeError):
    """The service must not start: artifacts, libraries or settings are wrong."""


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


def check_shape(manifest) -> None:
    """The parts of manifest.json this script reads, of the types it reads them as."""

    def text_map(value) -> bool:
        return type(value) is dict and all(type(v) is str for v in value.values())

    if type(manifest) is not dict:
        raise refuse(f"{MANIFEST_FILE} must hold a JSON object")
    for key, valid, what in (
        ("artifacts", text_map, "an object of file names and sha256 texts"),
        ("libraries", text_map, "an object of names and version texts"),
        (
            "features",
            lambda v: type(v) is list and all(type(f) is str for f in v),
            "a list of texts",
        ),
    ):
        if key in manifest and not valid(manifest[key]):
            raise refuse(f'"{key}" in {MANIFEST_FILE} must be {what}')


def read_verified(folder: Path, manifest: dict) -> dict[str, bytes]:
    """Every artifact the manifest lists, read once and returned only if its sha256 matches."""
    listed = manifest.get("artifacts", {})
    for name in {PIPELINE_FILE, CLASSIFIER_FILE} - listed.keys():
        raise refuse(f"{MANIFEST_FILE} has no hash for {name}")
    for name in listed:
        if Path(name).name != name or name in (".", "..") or "\0" in name:
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
    """Largest difference between the fast path, in one batch and row by row, and
    scikit-learn + XGBoost on probe rows."""
    import pandas as pd

    rows = probe_rows(scorer)
    frame = pd.DataFrame(rows, columns=[c.name for c in scorer.columns])
    expected = classifier.predict_proba(pipeline.transform(frame))
    columns = scorer.contract.validate({"data": rows})
    each = [scorer.contract.validate({"data": [row]}) for row in rows]  # one row per call
    alone = np.concatenate([scorer.scores(c) for c in each])
    difference = max(
        float(np.abs(found - expected).max()) for found in (scorer.scores(columns), alone)
    )
    if not difference <= TOLERANCE:
        raise refuse(f"the fast path differs from the reference by {difference:.2e}")
    return difference


def load(model_dir: str | None) -> tuple[Scorer, dict]:
    import xgboost as xgb

    folder = find_artifacts(model_dir)
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text())
    except (OSError, ValueError) as ex:
        raise refuse(f"cannot read {folder / MANIFEST_FILE}: {ex}") from None
    check_shape(manifest)
    check_versions(manifest.get("libraries", {}))
    artifacts = read_verified(folder, manifest)  # before any of them is loaded
    pipeline = safe_load.load(artifacts, refuse)  # never the pickle: safe_load.py
    classifier = xgb.XGBClassifier()
    classifier.load_model(bytearray(artifacts[CLASSIFIER_FILE]))
    try:
        scorer = Scorer(pipeline, classifier.get_booster(), manifest.get("features"))
    except NoFastPath as ex:
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
