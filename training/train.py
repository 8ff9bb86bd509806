"""Train the preprocessing pipeline and the XGBoost classifier, and write model_artifacts/.

The recipe is the original tutorial's; what it adds is reproducibility: fixed seeds, a
portable XGBoost model file and a manifest with hashes and the exact library versions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import joblib
import pandas as pd
import xgboost as xgb
from sklearn.compose import ColumnTransformer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from scoring import customers, safe_load
from training import profile

log = logging.getLogger("training")

ROOT = Path(__file__).resolve().parent.parent
DATA_FILE = "Churn_Modelling.csv"
# The public bank-churn data set (Kaggle "Churn Modelling", 10,000 rows); CHURN_DATA moves it.
DEFAULT_DATA = Path(os.environ.get("CHURN_DATA") or ROOT.parent / "shared" / "data" / DATA_FILE)
WHERE_TO_PUT_IT = (
    f"download {DATA_FILE} (the public bank-churn data set, Kaggle 'Churn Modelling', "
    f"10,000 rows) to {DEFAULT_DATA} or set CHURN_DATA to its path"
)
DEFAULT_OUT = ROOT / "model_artifacts"

MODEL_NAME = "churn-xgb"
PIPELINE_FILE = "pipeline_processing.pkl"
# The same pipeline in a format that loads without running code: the only one the service loads.
SAFE_PIPELINE_FILE = safe_load.FILE
CLASSIFIER_FILE = "modelML2.ubj"
MANIFEST_FILE = "manifest.json"

# Request order of the original client (scoring/customers.py); HasCrCard and IsActiveMember are
# accepted but unused.
FEATURES = customers.FEATURES
CATEGORICAL = ["Geography", "Gender"]
NUMERIC = ["CreditScore", "Age", "Balance", "EstimatedSalary", "Tenure", "NumOfProducts"]
DROPPED = ["RowNumber", "CustomerId", "Surname"]
TARGET = "Exited"

SEED = 42
TEST_SIZE = 0.2
XGB_PARAMS = {
    "objective": "binary:logistic",
    "max_depth": 5,
    "min_child_weight": 10,
    "n_estimators": 100,
    "learning_rate": 0.2,
    "reg_alpha": 0.5,
    "tree_method": "exact",
    "random_state": SEED,
    "n_jobs": 1,
}
# Libraries whose exact versions the artifacts depend on; the scoring script refuses others.
PINNED = ["scikit-learn", "xgboost", "numpy", "pandas", "joblib"]


@dataclass(frozen=True)
class Result:
    pipeline: Pipeline
    classifier: xgb.XGBClassifier
    roc_auc: float
    x_test: pd.DataFrame
    x_train: pd.DataFrame


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def python_minor() -> str:
    return ".".join(platform.python_version_tuple()[:2])


def load_data(path: Path, rows: int | None = None) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(
            f"training data not found at {path}: {WHERE_TO_PUT_IT}, or pass --data PATH"
        )
    frame = pd.read_csv(path, nrows=rows)
    missing = [c for c in DROPPED + FEATURES + [TARGET] if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} lacks the columns {missing}")
    return frame.drop(columns=DROPPED)


def build_pipeline() -> Pipeline:
    columns = ColumnTransformer(
        [
            ("categories", OneHotEncoder(drop="first"), CATEGORICAL),
            ("numbers", StandardScaler(), NUMERIC),
        ]
    )
    return Pipeline([("columns", columns)])


def train(frame: pd.DataFrame) -> Result:
    x = frame[FEATURES]
    y = frame[TARGET]
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_SIZE, stratify=y, random_state=SEED
    )
    log.info("[2/4] fitting preprocessing on %d rows", len(x_train))
    pipeline = build_pipeline()
    train_features = pipeline.fit_transform(x_train)
    test_features = pipeline.transform(x_test)
    log.info("[3/4] fitting XGBoost (%d trees)", XGB_PARAMS["n_estimators"])
    classifier = xgb.XGBClassifier(**XGB_PARAMS)
    classifier.fit(train_features, y_train, eval_set=[(test_features, y_test)], verbose=25)
    scores = classifier.predict_proba(test_features)[:, 1]
    return Result(pipeline, classifier, float(roc_auc_score(y_test, scores)), x_test, x_train)


def next_version(out: Path, hashes: dict[str, str]) -> int:
    """Keep the version while the artifacts are unchanged; bump it when they change."""
    previous = out / MANIFEST_FILE
    if not previous.is_file():
        return 1
    old = json.loads(previous.read_text())
    if old.get("artifacts") == hashes:
        return int(old["version"])
    return int(old["version"]) + 1


def write_artifacts(result: Result, out: Path, data: Path, rows: int) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(result.pipeline, out / PIPELINE_FILE)
    result.classifier.get_booster().save_model(str(out / CLASSIFIER_FILE))
    (out / SAFE_PIPELINE_FILE).write_bytes(safe_load.dumps(result.pipeline))
    # What `make drift` compares captured rows with: the training rows and their p_leave.
    train_p_leave = result.classifier.predict_proba(result.pipeline.transform(result.x_train))[:, 1]
    profile.write(profile.build(result.x_train, train_p_leave), out)
    written = (PIPELINE_FILE, CLASSIFIER_FILE, SAFE_PIPELINE_FILE, profile.PROFILE_FILE)
    hashes = {name: sha256(out / name) for name in written}
    manifest = {
        "name": MODEL_NAME,
        "version": next_version(out, hashes),
        "artifacts": hashes,
        "features": FEATURES,
        # The minor version only: pickles and the pinned wheels follow it, not the patch release,
        # so retraining on another 3.11.x gives the same manifest (and the same model digest).
        "libraries": {"python": python_minor()}
        | {name: version(name if name != "xgboost" else "xgboost-cpu") for name in PINNED},
        "data": {"file": data.name, "sha256": sha256(data), "rows": rows},
        "metrics": {"roc_auc": round(result.roc_auc, 6), "test_rows": len(result.x_test)},
        "training": {"seed": SEED, "test_size": TEST_SIZE, "xgboost": XGB_PARAMS},
    }
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="bank-churn CSV")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="artifact folder")
    parser.add_argument("--rows", type=int, default=None, help="train on the first N rows only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)

    log.info("[1/4] reading %s", args.data)
    try:
        frame = load_data(args.data, args.rows)
    except (FileNotFoundError, ValueError) as err:
        log.error("error: %s", err)
        return 2
    result = train(frame)
    log.info("[4/4] writing artifacts to %s", args.out)
    manifest = write_artifacts(result, args.out, args.data, len(frame))
    log.info(
        "ROC AUC on the held-out %d rows: %.4f (model %s version %d)",
        len(result.x_test),
        result.roc_auc,
        manifest["name"],
        manifest["version"],
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
