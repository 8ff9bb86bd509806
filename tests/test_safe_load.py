"""The service loads the pipeline only from the skops file, only with the allow-listed types."""

import json
import logging
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from load import server
from scoring import safe_load, score
from training import train

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "model_artifacts"
KEY = "k" * 32
# A module whose import leaves a mark: a pipeline naming one of its functions is a file whose
# load would run code of the file's choosing.
PAYLOAD = """
import pathlib
pathlib.Path(__file__).with_suffix(".ran").touch()

def double(x):
    return 2 * x
"""


@pytest.fixture
def artifacts(tmp_path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(ARTIFACTS, copy)
    return copy


def replace_pipeline(folder: Path, data: bytes) -> None:
    """A new skops file whose hash is also updated in the manifest, as an attacker would."""
    (folder / safe_load.FILE).write_bytes(data)
    path = folder / score.MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest["artifacts"][safe_load.FILE] = train.sha256(folder / safe_load.FILE)
    path.write_text(json.dumps(manifest))


def refusals(model_dir: Path, caplog) -> list[str]:
    with caplog.at_level(logging.ERROR), pytest.raises(score.StartupError):
        score.load(str(model_dir))
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("refusing")]


def committed_pipeline():
    return skops.io.loads(
        (ARTIFACTS / safe_load.FILE).read_bytes(), trusted=list(safe_load.ALLOWED)
    )


def test_committed_artifacts_load_and_score_as_before():
    manifest = json.loads((ARTIFACTS / score.MANIFEST_FILE).read_text())
    assert safe_load.FILE in manifest["artifacts"]
    scorer, _ = score.load(str(ARTIFACTS))
    columns = scorer.contract.read(json.dumps({"data": [score.SAMPLE_ROW]}).encode())
    [[stay, leave]] = json.loads(score.answer(scorer.scores(columns)))
    assert stay == pytest.approx(0.9652059674263, abs=1e-7)  # the answer is float32
    assert stay + leave == pytest.approx(1)


def test_the_skops_pipeline_is_the_pickled_one():
    import joblib  # the test may unpickle the committed file; the service may not

    rows = score.probe_rows(score.load(str(ARTIFACTS))[0], 100)
    frame = pd.DataFrame(rows, columns=train.FEATURES)
    pickled = joblib.load(ARTIFACTS / train.PIPELINE_FILE)
    np.testing.assert_array_equal(committed_pipeline().transform(frame), pickled.transform(frame))


def test_the_allow_list_is_exactly_the_types_training_writes():
    assert safe_load.types_in((ARTIFACTS / safe_load.FILE).read_bytes()) == set(safe_load.ALLOWED)


def test_init_never_unpickles(monkeypatch):
    import pickle

    import joblib

    def forbidden(*args, **kwargs):
        raise AssertionError("the service unpickled something")

    for target, name in ((pickle, "load"), (pickle, "loads"), (joblib, "load")):
        monkeypatch.setattr(target, name, forbidden)
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(ARTIFACTS))
    monkeypatch.setenv(score.KEY_ENV, KEY)
    monkeypatch.delenv(score.REQUIRE_ENV, raising=False)
    score.init()
    assert json.loads(score._scorer.score(json.dumps({"data": [score.SAMPLE_ROW]}).encode()))


def payload_pipeline(folder: Path, with_code: bool) -> tuple[bytes, Path]:
    """The committed pipeline plus a FunctionTransformer, whose function (if any) lives in a
    module of `folder` that leaves a mark when imported: the skops file, and where the mark
    would appear (it is not there)."""
    (folder / "payload_module.py").write_text(PAYLOAD)
    sys.path.insert(0, str(folder))
    try:
        import payload_module  # to build the file; its mark is removed below
    finally:
        sys.path.remove(str(folder))
    extra = FunctionTransformer(payload_module.double if with_code else None)
    data = skops.io.dumps(Pipeline(committed_pipeline().steps + [("extra", extra)]))
    del sys.modules["payload_module"]
    mark = folder / "payload_module.ran"
    mark.unlink()
    return data, mark


@pytest.mark.parametrize("with_code", [False, True], ids=["trusted-by-skops", "names-a-function"])
def test_a_type_outside_the_allow_list_is_refused_before_any_of_it_runs(
    artifacts, tmp_path, monkeypatch, caplog, with_code
):
    data, mark = payload_pipeline(tmp_path, with_code)
    replace_pipeline(artifacts, data)
    monkeypatch.syspath_prepend(str(tmp_path))  # importable, were anything to import it
    monkeypatch.setattr(skops.io, "loads", lambda *a, **k: pytest.fail("skops was asked to load"))

    lines = refusals(artifacts, caplog)
    assert len(lines) == 1
    assert "holds types outside the allow-list" in lines[0]
    assert "sklearn.preprocessing._function_transformer.FunctionTransformer" in lines[0]
    assert ("payload_module.double" in lines[0]) is with_code
    assert not mark.exists() and "payload_module" not in sys.modules


def test_the_server_does_not_start_on_a_replaced_pipeline(artifacts, tmp_path):
    data, mark = payload_pipeline(tmp_path, with_code=True)
    replace_pipeline(artifacts, data)
    log = tmp_path / "server.log"
    env = {score.KEY_ENV: KEY, "PYTHONPATH": str(tmp_path)}
    process, _ = server.start(server.SCRIPTS["ours"], artifacts, env, log)
    try:
        exit_code = process.wait(timeout=120)
    finally:
        server.stop(process)
    text = log.read_text(errors="replace")
    assert exit_code == 3, text[-2000:]  # gunicorn's boot error: the probe never passes
    assert text.count("refusing to start:") == 1, text[-2000:]
    assert "holds types outside the allow-list" in text
    assert not mark.exists()


def test_training_refuses_to_write_a_pipeline_the_service_would_refuse():
    pipeline = Pipeline(committed_pipeline().steps + [("extra", FunctionTransformer())])
    with pytest.raises(ValueError, match="review them and add them to ALLOWED"):
        safe_load.dumps(pipeline)


def test_the_skops_file_is_hash_checked_before_skops_reads_it(artifacts, monkeypatch, caplog):
    with (artifacts / safe_load.FILE).open("ab") as f:
        f.write(b"\0")
    monkeypatch.setattr(safe_load, "types_in", lambda *a: pytest.fail("the file was read"))
    [line] = refusals(artifacts, caplog)
    assert f"{safe_load.FILE} has sha256" in line


def test_a_manifest_without_the_skops_file_is_refused(artifacts, caplog):
    path = artifacts / score.MANIFEST_FILE
    manifest = json.loads(path.read_text())
    del manifest["artifacts"][safe_load.FILE]
    path.write_text(json.dumps(manifest))
    [line] = refusals(artifacts, caplog)
    assert f"lists no {safe_load.FILE}" in line


@pytest.mark.parametrize(
    "data", [b"not a zip", b"PK\x05\x06" + bytes(18)], ids=["not-a-zip", "empty-zip"]
)
def test_a_file_that_is_not_skops_is_refused(artifacts, caplog, data):
    replace_pipeline(artifacts, data)
    [line] = refusals(artifacts, caplog)
    assert f"{safe_load.FILE} is not a skops file" in line


def test_the_documented_review_command_prints_the_allow_list():
    text = (ROOT / "docs" / "security.md").read_text()
    section = text[text.index("## What the service loads") :]
    command = section.split("```sh\n", 1)[1].split("\n```", 1)[0]
    done = subprocess.run(
        shlex.split(command), cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == sorted(safe_load.ALLOWED)
