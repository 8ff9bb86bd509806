"""Training is reproducible: the same data gives the same artifacts and predictions."""

import json
import os
from pathlib import Path

import joblib
import numpy as np
import pytest
import xgboost as xgb

from scoring import score
from training import train

ROWS = 1500


@pytest.fixture(scope="module")
def data() -> Path:
    if not train.DEFAULT_DATA.is_file():
        # The CSV is not in the repository; checkouts without it (GitHub-hosted runners) say so.
        if os.environ.get("CHURN_DATA_TESTS") == "skip":
            pytest.skip(f"no bank-churn CSV at {train.DEFAULT_DATA} (CHURN_DATA_TESTS=skip)")
        pytest.fail(f"the bank-churn CSV is expected at {train.DEFAULT_DATA}")
    return train.DEFAULT_DATA


def run_training(data: Path, out: Path) -> dict:
    assert train.main(["--data", str(data), "--out", str(out), "--rows", str(ROWS)]) == 0
    return json.loads((out / train.MANIFEST_FILE).read_text())


def predict(out: Path, frame) -> np.ndarray:
    pipeline = joblib.load(out / train.PIPELINE_FILE)
    booster = xgb.Booster(model_file=str(out / train.CLASSIFIER_FILE))
    return booster.inplace_predict(pipeline.transform(frame[train.FEATURES]))


def test_training_twice_gives_identical_artifacts_and_predictions(data, tmp_path):
    first = run_training(data, tmp_path / "a")
    second = run_training(data, tmp_path / "b")
    assert first["artifacts"] == second["artifacts"]
    frame = train.load_data(data, ROWS)
    np.testing.assert_array_equal(predict(tmp_path / "a", frame), predict(tmp_path / "b", frame))


def test_retraining_unchanged_keeps_version_and_changed_bumps_it(data, tmp_path):
    out = tmp_path / "art"
    assert run_training(data, out)["version"] == 1
    assert run_training(data, out)["version"] == 1
    assert train.main(["--data", str(data), "--out", str(out), "--rows", "1200"]) == 0
    assert json.loads((out / train.MANIFEST_FILE).read_text())["version"] == 2


def test_freshly_trained_folder_is_one_the_service_loads(data, tmp_path):
    manifest = run_training(data, tmp_path)
    for name, digest in manifest["artifacts"].items():
        assert train.sha256(tmp_path / name) == digest
    assert manifest["data"]["sha256"] == train.sha256(data)
    scorer, _ = score.load(str(tmp_path))  # hashes, versions, features and the fast path
    assert isinstance(scorer, score.Scorer)
    assert 0.5 < manifest["metrics"]["roc_auc"] <= 1.0


def test_missing_data_is_a_clear_error(tmp_path, caplog):
    assert train.main(["--data", str(tmp_path / "nope.csv"), "--out", str(tmp_path)]) == 2
    assert "training data not found" in caplog.text
    assert not (tmp_path / train.MANIFEST_FILE).exists()


def test_committed_artifacts_match_their_manifest():
    manifest = json.loads((train.DEFAULT_OUT / train.MANIFEST_FILE).read_text())
    for name, digest in manifest["artifacts"].items():
        assert train.sha256(train.DEFAULT_OUT / name) == digest
    assert manifest["metrics"]["roc_auc"] == pytest.approx(0.84, abs=0.01)
