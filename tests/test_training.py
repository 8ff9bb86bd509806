"""Training is reproducible: the same data gives the same artifacts and predictions."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from training import train

ROWS = 1500


def test_missing_data_is_a_clear_error(tmp_path, caplog):
    assert train.main(["--data", str(tmp_path / "nope.csv"), "--out", str(tmp_path)]) == 2
    assert "training data not found" in caplog.text
    assert not (tmp_path / train.MANIFEST_FILE).exists()


def test_committed_artifacts_match_their_manifest():
    manifest = json.loads((train.DEFAULT_OUT / train.MANIFEST_FILE).read_text())
    for name, digest in manifest["artifacts"].items():
        assert train.sha256(train.DEFAULT_OUT / name) == digest
    assert manifest["metrics"]["roc_auc"] == pytest.approx(0.84, abs=0.01)


def run_retraining_tests(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    """tests/test_retraining.py in a child pytest with the given environment."""
    kept = {k: v for k, v in os.environ.items() if k not in ("CI", "CHURN_DATA_TESTS")}
    tests = str(Path(__file__).with_name("test_retraining.py"))
    command = [sys.executable, "-m", "pytest", tests, "-q", "-rs", "-p", "no:cacheprovider"]
    command += ["--basetemp", str(tmp_path / "t")]
    return subprocess.run(
        command, env=kept | env, cwd=train.ROOT, capture_output=True, text=True, check=False
    )


def test_without_the_csv_retraining_is_skipped_with_where_to_put_it(tmp_path):
    done = run_retraining_tests({"CHURN_DATA": str(tmp_path / "elsewhere.csv")}, tmp_path)
    # The module skips as a whole, so the child run collects no test (pytest's exit code 5).
    assert done.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, done.stdout
    assert "1 skipped" in done.stdout
    assert "retraining tests need Churn_Modelling.csv: download" in done.stdout
    assert str(tmp_path / "elsewhere.csv") in done.stdout


def test_in_ci_a_missing_csv_fails(tmp_path):
    env = {"CHURN_DATA": str(tmp_path / "elsewhere.csv"), "CI": "true"}
    done = run_retraining_tests(env, tmp_path)
    assert done.returncode == 1
    assert "CI=true requires it" in done.stdout


def test_manifest_records_the_python_minor_version_only():
    """Another 3.11 patch release retrains to the same bytes: the patch number is not recorded."""
    manifest = json.loads((train.DEFAULT_OUT / train.MANIFEST_FILE).read_text())
    assert manifest["libraries"]["python"] == train.python_minor() == "3.11"
