"""The reference profile and `make drift`: shifted rows raise an alert, training-like rows none."""

import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from scoring import capture, score
from tests.localserver import MODEL_DIR
from tools import captures, drift
from training import profile, train

MANIFEST = json.loads((MODEL_DIR / train.MANIFEST_FILE).read_text())
PROFILE = json.loads((MODEL_DIR / profile.PROFILE_FILE).read_text())
INPUTS = list(train.FEATURES)


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    """2000 rows of the real CSV, read at run time (rows of it are never committed)."""
    if not train.DEFAULT_DATA.is_file():
        if os.environ.get("CHURN_DATA_TESTS") == "skip":
            pytest.skip(f"no bank-churn CSV at {train.DEFAULT_DATA} (CHURN_DATA_TESTS=skip)")
        pytest.fail(f"the bank-churn CSV is expected at {train.DEFAULT_DATA}")
    return train.load_data(train.DEFAULT_DATA)[INPUTS].sample(2000, random_state=7)


@pytest.fixture(scope="module")
def scorer() -> score.Scorer:
    return score.load(str(MODEL_DIR))[0]


def write_captures(folder: Path, scorer: score.Scorer, frame: pd.DataFrame) -> Path:
    """The rows scored by the service's own code and written as the service writes them."""
    rows = frame.astype(object).to_numpy().tolist()
    body = json.dumps({"data": rows}).encode()
    answer = scorer.score(body)
    records = capture.records((time.time(), "r1", body, answer), INPUTS, {"model_version": 2})
    writer = capture.JsonLinesWriter(folder, retention_days=None)
    writer.write(records)
    writer.close()
    return folder


def run(folder: Path, tmp_path: Path, capsys) -> tuple[int, dict[str, str]]:
    code = drift.main([str(folder), "--html", str(tmp_path / "report.html")])
    printed = capsys.readouterr().out
    statuses = {}
    for line in printed.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] in ("ok", "watch", "alert", "n/a"):
            statuses[parts[0]] = parts[3]
    return code, statuses


def test_the_profile_is_an_artifact_with_every_feature_and_p_leave():
    assert MANIFEST["artifacts"][profile.PROFILE_FILE] == train.sha256(
        MODEL_DIR / profile.PROFILE_FILE
    )
    assert list(PROFILE["features"]) == INPUTS
    for spec in [*PROFILE["features"].values(), PROFILE[profile.PREDICTION]]:
        assert sum(spec["shares"]) == pytest.approx(1, abs=1e-4)
    assert PROFILE["features"]["Geography"]["kind"] == "category"
    assert PROFILE["features"]["Age"]["kind"] == "number"


def test_rows_drawn_from_the_training_data_raise_no_alert(customers, scorer, tmp_path, capsys):
    folder = write_captures(tmp_path / "captures", scorer, customers)
    code, statuses = run(folder, tmp_path, capsys)
    assert code == 0
    assert statuses == dict.fromkeys([*INPUTS, "p_leave"], "ok")
    assert "<svg" in (tmp_path / "report.html").read_text()


def test_ages_fifteen_years_older_are_flagged_and_nothing_else(customers, scorer, tmp_path, capsys):
    older = customers.assign(Age=customers["Age"] + 15)
    folder = write_captures(tmp_path / "captures", scorer, older)
    code, statuses = run(folder, tmp_path, capsys)
    assert code == 1
    assert statuses.pop("Age") == "alert"
    statuses.pop("p_leave")  # the model's answers follow the ages: prediction drift is expected
    assert statuses == dict.fromkeys(set(INPUTS) - {"Age"}, "ok")


def test_too_few_rows_get_no_status_and_no_alert(customers, scorer, tmp_path, capsys):
    older = customers.head(drift.MIN_ROWS - 1).assign(Age=lambda f: f["Age"] + 15)
    code, statuses = run(write_captures(tmp_path / "c", scorer, older), tmp_path, capsys)
    assert code == 0
    assert set(statuses.values()) == {"n/a"}


def test_azureml_collected_files_are_read_column_by_column(tmp_path, capsys):
    inputs = tmp_path / "model_inputs" / "2026" / "12" / "03" / "10"
    inputs.mkdir(parents=True)
    rows = [dict(zip(INPUTS, score.SAMPLE_ROW, strict=True))] * 5
    line = {"specversion": "1.0", "correlationid": "x", "data": rows}
    (inputs / "a.jsonl").write_text(json.dumps(line) + "\n")
    assert len(drift.read_captures(tmp_path)) == 5


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda f: None, "not a folder"),
        (lambda f: f.mkdir(), "no captured rows"),
        (lambda f: (f.mkdir(), (f / "a.jsonl").write_text("{oops\n")), "a.jsonl:1 is not JSON"),
        (lambda f: (f.mkdir(), (f / "a.jsonl").write_text('{"x": 1}\n')), "none of the columns"),
    ],
)
def test_bad_captures_are_a_clear_error(tmp_path, capsys, setup, message):
    setup(tmp_path / "captures")
    assert drift.main([str(tmp_path / "captures"), "--html", str(tmp_path / "r.html")]) == 2
    assert message in capsys.readouterr().err


def test_psi_thresholds():
    assert [drift.status(v) for v in (0.0, 0.099, 0.1, 0.249, 0.25)] == [
        "ok",
        "ok",
        "watch",
        "watch",
        "alert",
    ]


class Blob:
    def __init__(self, name):
        self.name = name


class Container:
    """What tools.captures uses of azure-storage-blob's ContainerClient."""

    def __init__(self, blobs: dict[str, bytes]):
        self.blobs = blobs

    def list_blobs(self, name_starts_with):
        return [Blob(n) for n in self.blobs if n.startswith(name_starts_with)]

    def download_blob(self, name):
        return type("Download", (), {"readall": lambda _: self.blobs[name]})()


class Directory:
    """What tools.captures uses of azure-storage-file-share's ShareDirectoryClient."""

    def __init__(self, tree: dict):
        self.tree = tree

    def list_directories_and_files(self):
        return [{"name": n, "is_directory": isinstance(v, dict)} for n, v in self.tree.items()]

    def get_subdirectory_client(self, name):
        return Directory(self.tree[name])

    def get_file_client(self, name):
        data = self.tree[name]
        download = type("Download", (), {"readall": lambda _: data})()
        return type("File", (), {"download_file": lambda _: download})()


def test_prod_blobs_are_downloaded_below_their_prefix(tmp_path):
    prefix = "modelDataCollector/churn-endpoint/blue/"
    blobs = {
        prefix + "model_inputs/2026/12/03/10/a.jsonl": b"{}\n",
        prefix + "model_outputs/2026/12/03/10/a.jsonl": b"{}\n",
        prefix + "model_inputs/readme.txt": b"",
        "modelDataCollector/other/x.jsonl": b"{}\n",
    }
    assert captures.download_blobs(Container(blobs), prefix, tmp_path) == 2
    found = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.jsonl"))
    assert found == ["model_inputs/2026/12/03/10/a.jsonl", "model_outputs/2026/12/03/10/a.jsonl"]


def test_dev_share_files_are_downloaded_with_their_hour_folders(tmp_path):
    tree = {"2026": {"12": {"03": {"10": {"host-1.jsonl": b"{}\n", "x.tmp": b""}}}}}
    assert captures.download_share(Directory(tree), tmp_path) == 1
    assert (tmp_path / "2026/12/03/10/host-1.jsonl").read_bytes() == b"{}\n"


def test_stack_without_the_pulumi_cli_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda _: None)
    assert drift.main([str(tmp_path), "--stack", "prod"]) == 2
    assert "pulumi CLI" in capsys.readouterr().err
