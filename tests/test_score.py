"""The entry script in-process: start-up checks, every validation rule, the HTTP adapter."""

import ast
import importlib.machinery
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder

from scoring import score
from scoring.swagger import swagger
from training import train

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "model_artifacts"
SAMPLE = score.SAMPLE_ROW
KEY = "k" * 32


@pytest.fixture(scope="module")
def scorer() -> score.Scorer:
    return score.load(str(ARTIFACTS))[0]


@pytest.fixture(scope="module")
def keyed():
    """The module initialised as a server worker would, with a key."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AZUREML_MODEL_DIR", str(ARTIFACTS))
        env.setenv(score.KEY_ENV, KEY)
        env.delenv(score.REQUIRE_ENV, raising=False)
        score.init()
        yield score


def body(rows) -> bytes:
    return json.dumps({"data": rows}).encode()


def rejection(scorer, raw: bytes) -> score.RequestError:
    with pytest.raises(score.RequestError) as caught:
        scorer.score(raw)
    return caught.value


def only_error(scorer, raw: bytes) -> dict:
    failure = rejection(scorer, raw)
    assert failure.status == 400
    assert failure.body["error_count"] == 1, failure.body
    return failure.body["errors"][0]


def as_object(row: list) -> dict:
    return dict(zip(train.FEATURES, row))


# -- the contract ------------------------------------------------------------------------------


def test_script_and_training_agree_on_files_and_columns():
    assert (score.PIPELINE_FILE, score.CLASSIFIER_FILE, score.MANIFEST_FILE) == (
        train.PIPELINE_FILE,
        train.CLASSIFIER_FILE,
        train.MANIFEST_FILE,
    )
    assert [c.name for c in score.CONTRACT] == train.FEATURES
    assert set(score.MODULES) == set(train.PINNED)


def test_sample_customer_stays(scorer):
    [[stay, leave]] = json.loads(scorer.score(body([SAMPLE])))
    assert stay > 0.9
    assert stay + leave == pytest.approx(1)


def test_rows_as_lists_or_objects_give_the_same_scores(scorer):
    rows = score.probe_rows(scorer, 20)
    as_lists = json.loads(scorer.score(body(rows)))
    mixed = [as_object(r) if i % 2 else r for i, r in enumerate(rows)]
    assert json.loads(scorer.score(body(mixed))) == as_lists
    assert len(as_lists) == len(rows)


def test_a_row_scores_the_same_alone_and_in_a_batch(scorer):
    """The kernel sums the trees of BLOCK_ROWS rows side by side: a row alone, in a part of a
    block, in one block or in many gets the same sum."""
    rows = score.probe_rows(scorer, 300)
    alone = [json.loads(scorer.score(body([row])))[0] for row in rows]
    for size in (2, score.kernel.BLOCK_ROWS, score.kernel.BLOCK_ROWS + 1, 41, len(rows)):
        assert json.loads(scorer.score(body(rows[:size]))) == alone[:size]


def test_scores_are_xgboosts_to_the_bit(scorer):
    """Same float32 inputs, comparisons, tree order and sigmoid as XGBoost's own predictor."""
    import joblib
    import pandas as pd
    import xgboost as xgb

    rows = score.probe_rows(scorer, 2000)
    names = [c.name for c in scorer.columns]
    pipeline = joblib.load(ARTIFACTS / score.PIPELINE_FILE)
    classifier = xgb.XGBClassifier()
    classifier.load_model(ARTIFACTS / score.CLASSIFIER_FILE)
    expected = classifier.predict_proba(pipeline.transform(pd.DataFrame(rows, columns=names)))
    assert (scorer.scores(scorer.contract.read(body(rows))) == expected).all()


def test_deeper_trees_score_to_the_bit_too(scorer):
    """Trees of more than 32 leaves take 64-bit masks: the same rule holds for them."""
    import pandas as pd
    import xgboost as xgb

    names = [c.name for c in scorer.columns]
    frame = pd.DataFrame(score.probe_rows(scorer, 3000), columns=names)
    label = (frame["Age"] > 45) ^ (frame["Balance"] > 1e5) ^ (frame["CreditScore"] % 7 == 0)
    pipeline = train.build_pipeline().fit(frame)
    params = {"max_depth": 6, "min_child_weight": 0, "n_estimators": 20, "tree_method": "exact"}
    classifier = xgb.XGBClassifier(**params, n_jobs=1).fit(pipeline.transform(frame), label)
    deep = score.Scorer(pipeline, classifier.get_booster(), names)
    assert deep.trees.masks.dtype == np.uint64
    rows = score.probe_rows(scorer, 500)
    expected = classifier.predict_proba(pipeline.transform(pd.DataFrame(rows, columns=names)))
    assert (deep.scores(deep.contract.read(body(rows))) == expected).all()
    alone = [deep.scores(deep.contract.read(body([row])))[0] for row in rows[:50]]
    assert (np.array(alone) == expected[:50]).all()


def test_a_model_is_compiled_once_per_process(scorer):
    """A second Scorer of the same artifacts reuses the compiled entry points (compiling them
    costs about a second), the start-up check has compiled both, and requests of integers and
    floats alike never compile another version while a client waits."""
    again = score.load(str(ARTIFACTS))[0]
    assert again.kernel is scorer.kernel
    rows = [score.SAMPLE_ROW, [700, "Spain", "Female", 40, 1, 0, 1, 1, 1, 50000.5]]
    for batch in ([row] for row in rows):
        scorer.score(body(batch))
    scorer.score(body(rows))
    assert [len(entry.signatures) for entry in scorer.kernel] == [1, 1]


def test_every_leaf_bit_has_its_own_slot():
    """The kernel finds a leaf's value by the top 6 bits of its mask bit times DE_BRUIJN."""
    values = np.arange(64, dtype=np.float32)[None, :] + 1
    slots = score.kernel.leaf_slots(values)
    assert sorted(slots[0].tolist()) == values[0].tolist()


def test_categories_come_from_the_fitted_encoder(scorer):
    import joblib

    columns = joblib.load(ARTIFACTS / score.PIPELINE_FILE).steps[0][1]
    encoder = columns.named_transformers_["categories"]
    by_name = {c.name: c for c in scorer.columns}
    derived = [by_name[name].categories for name in ("Geography", "Gender")]
    assert derived == [tuple(c) for c in encoder.categories_]
    assert all(c.categories == () for c in score.CONTRACT)  # none written in the script


def test_the_modules_beside_the_entry_script_shadow_no_installed_module():
    """They are imported by plain name from the entry script's folder, put last on sys.path, so
    an installed module of the same name would be imported instead (azmlinfsrv alone puts a
    config.py, a swagger.py and more on the path)."""
    folder = ROOT / "scoring"
    local = {m.stem for m in folder.glob("*.py")}
    imported = set()
    for module in folder.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module)
    assert {"artifacts", "contract", "fastpath"} <= imported & local
    elsewhere = [p for p in sys.path if Path(p or ".").resolve() != folder]
    for name in imported & local:
        assert importlib.machinery.PathFinder.find_spec(name, elsewhere) is None, name


def readings(scorer, raw: bytes):
    """What the fast reading and the exact one make of a body: columns or the 4xx."""
    results = []
    for read in (
        scorer.contract.read,
        lambda b: scorer.contract.validate(score.contract.parse_exactly(b)),
    ):
        try:
            results.append(read(raw))
        except score.RequestError as ex:
            results.append((ex.status, ex.body))
    return results


ODD_BODIES = [
    b'{"data": [[596, "Germany", "Male", 32, 3, 96709.1, 2, 0, 0, 41788.4]], "data": []}',
    b'{"data": [], "data": [[596, "Germany", "Male", 32, 3, 96709.1, 2, 0, 0, 41788.4]]}',
    b'\xef\xbb\xbf{"data": [[596, "Germany", "Male", 32, 3, 96709.1, 2, 0, 0, 41788.4]]}',
    b'{"data": [[596, "Germany", "Male", 32, 3, 1e400, 2, 0, 0, 41788.4]]}',
    b'{"data": [[596, "Ge\\u0000rmany", "Male", 32, 3, 1, 2, 0, 0, 1]]}',
    b'{"data": [[596, "\\ud800", "Male", 32, 3, 1, 2, 0, 0, 1]]}',
    b'{"data": [[596, "Germany", "Male", 32, 3, -0.0, 2, 0, 0, 1E2]]}',
    b'{"data": [[18446744073709551616, "Germany", "Male", 32, 3, 1, 2, 0, 0, 1]]}',
    (
        b'{"data": [{"CreditScore": 596, "CreditScore": 600, "Geography": "Spain", "Gender": "Male",'
        b' "Age": 32, "Tenure": 3, "Balance": 1, "NumOfProducts": 2, "HasCrCard": 0,'
        b' "IsActiveMember": 0, "EstimatedSalary": 1}]}'
    ),
]


@pytest.mark.parametrize("raw", ODD_BODIES)
def test_the_fast_reading_gives_what_the_exact_one_gives(scorer, raw):
    fast, exact = readings(scorer, raw)
    assert fast == exact


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_body_reads_the_same_both_ways(scorer, data):
    """Valid rows, then bytes cut out, repeated or changed anywhere in the body."""
    rows = data.draw(
        st.lists(st.sampled_from(score.probe_rows(scorer, 30)), min_size=1, max_size=5)
    )
    rows = [as_object(r) if data.draw(st.booleans()) else r for r in rows]
    raw = bytearray(body(rows))
    for _ in range(data.draw(st.integers(0, 3))):
        at = data.draw(st.integers(0, len(raw)))
        raw[at : at + data.draw(st.integers(0, 3))] = data.draw(st.binary(max_size=3))
    fast, exact = readings(scorer, bytes(raw))
    assert fast == exact


# -- validation: one rule per test -------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, fragment",
    [
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b'{"data": [[1]]} trailing', "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
        (b'{"data": [[NaN]]}', "NaN is not a number"),
        (b'{"data": [[Infinity]]}', "Infinity is not a number"),
        (b'{"data": [[' + b"9" * 5000 + b"]]}", "not valid JSON"),
        (b'{"data": [], "data": []}', "repeats a key"),
    ],
)
def test_unreadable_bodies_are_400(scorer, raw, fragment):
    failure = rejection(scorer, raw)
    assert failure.status == 400
    assert fragment in failure.body["message"]


@pytest.mark.parametrize(
    "payload",
    [[], "data", None, 3, {}, {"rows": [SAMPLE]}, {"data": [SAMPLE], "extra": 1}],
)
def test_the_envelope_must_be_an_object_with_only_data(scorer, payload):
    assert only_error(scorer, json.dumps(payload).encode())["expected"] == (
        'an object with the single key "data"'
    )


@pytest.mark.parametrize("data", [[], {}, "rows", None, SAMPLE[0]])
def test_data_must_be_a_non_empty_list(scorer, data):
    found = only_error(scorer, json.dumps({"data": data}).encode())
    assert found["expected"] == "a non-empty list of rows"


def test_too_many_rows_is_413(scorer):
    failure = rejection(scorer, body([SAMPLE] * (score.MAX_ROWS + 1)))
    assert failure.status == 413
    assert str(score.MAX_ROWS) in failure.body["message"]


def test_the_row_limit_itself_is_accepted(scorer):
    assert len(json.loads(scorer.score(body([SAMPLE] * score.MAX_ROWS)))) == score.MAX_ROWS


@pytest.mark.parametrize("row", [SAMPLE[:9], SAMPLE + [0], [], "row", 5, None, [SAMPLE]])
def test_a_row_must_be_ten_values_or_an_object(scorer, row):
    found = only_error(scorer, body([SAMPLE, row]))
    assert (found["row"], found["column"]) == (1, None)
    assert found["expected"].startswith("a list of 10 values (CreditScore, Geography")


def test_object_rows_name_missing_and_unknown_keys(scorer):
    row = as_object(SAMPLE)
    del row["Age"]
    row["age"] = 32
    failure = rejection(scorer, body([row]))
    found = {(e["column"], e["expected"]) for e in failure.body["errors"]}
    assert found == {("age", "no such column"), ("Age", "an integer from 18 to 120")}


# column index, bad value, expectation
BAD_VALUES = [
    (0, 299, "an integer from 300 to 900"),
    (0, 901, "an integer from 300 to 900"),
    (0, 596.0, "an integer from 300 to 900"),
    (0, "596", "an integer from 300 to 900"),
    (0, True, "an integer from 300 to 900"),
    (0, None, "an integer from 300 to 900"),
    (0, 10**400, "an integer from 300 to 900"),
    (1, "Italy", "one of France, Germany, Spain"),
    (1, "germany", "one of France, Germany, Spain"),
    (1, 1, "one of France, Germany, Spain"),
    (1, ["Germany"], "one of France, Germany, Spain"),
    (2, "M", "one of Female, Male"),
    (3, 17, "an integer from 18 to 120"),
    (3, 32.5, "an integer from 18 to 120"),
    (4, -1, "an integer from 0 to 100"),
    (5, -0.01, "a number from 0 to 1e+09"),
    (5, 1e300, "a number from 0 to 1e+09"),
    (5, "96709.1", "a number from 0 to 1e+09"),
    (5, {"amount": 1}, "a number from 0 to 1e+09"),
    (6, 0, "an integer from 1 to 10"),
    (7, 2, "an integer from 0 to 1"),
    (8, False, "an integer from 0 to 1"),
    (9, 1e10, "a number from 0 to 1e+09"),
]


@pytest.mark.parametrize("position, value, expected", BAD_VALUES)
def test_each_bad_value_names_row_column_and_expectation(scorer, position, value, expected):
    row = list(SAMPLE)
    row[position] = value
    for form in (row, as_object(row)):
        found = only_error(scorer, body([SAMPLE, SAMPLE, form]))
        assert found["row"] == 2
        assert found["column"] == train.FEATURES[position]
        assert found["expected"] == expected
        assert len(found["got"]) <= 45


def test_values_at_the_bounds_are_accepted(scorer):
    low = [300, "France", "Female", 18, 0, 0, 1, 0, 0, 0]
    high = [900, "Spain", "Male", 120, 100, 1e9, 10, 1, 1, 1e9]
    assert len(json.loads(scorer.score(body([low, high, [*low[:5], 0.0, *low[6:]]])))) == 3


def test_every_error_is_counted_and_the_list_is_capped(scorer):
    bad = list(SAMPLE)
    bad[1] = "Mars"
    failure = rejection(scorer, body([bad] * 50))
    assert failure.body["error_count"] == 50
    assert len(failure.body["errors"]) == score.contract.MAX_ERRORS_SHOWN
    assert failure.body["message"] == "50 problems in the rows; nothing was scored"


def test_error_bodies_stay_short_for_huge_values(scorer):
    row = list(SAMPLE)
    row[1] = "x" * 100_000
    found = only_error(scorer, body([row]))
    assert found["got"] == json.dumps("x" * 40 + "...")


# -- start-up ----------------------------------------------------------------------------------


@pytest.fixture
def artifacts(tmp_path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(ARTIFACTS, copy)
    return copy


def refusal(model_dir, caplog) -> str:
    with pytest.raises(score.StartupError) as caught:
        score.load(str(model_dir))
    assert "refusing to start" in caplog.text
    return str(caught.value)


def test_a_registered_folder_model_is_found_one_level_down(artifacts):
    nested = artifacts.parent / "mount"
    nested.mkdir()
    artifacts.rename(nested / "model_artifacts")
    scorer, manifest = score.load(str(nested))
    assert manifest["name"] == "churn-xgb"
    assert json.loads(scorer.score(body([SAMPLE])))[0][0] > 0.9


def test_two_candidate_folders_are_refused(artifacts, caplog):
    shutil.copytree(artifacts, artifacts / "a")
    shutil.copytree(artifacts, artifacts / "b")
    (artifacts / score.MANIFEST_FILE).unlink()
    assert "2 of its folders" in refusal(artifacts, caplog)


def test_missing_model_dir_is_refused(tmp_path, caplog):
    assert "it or any folder in it has one" in refusal(tmp_path / "nowhere", caplog)
    with pytest.raises(score.StartupError, match="AZUREML_MODEL_DIR is not set"):
        score.load(None)


@pytest.mark.parametrize("name", [score.PIPELINE_FILE, score.CLASSIFIER_FILE])
def test_a_tampered_artifact_is_refused_before_loading(artifacts, caplog, monkeypatch, name):
    with (artifacts / name).open("ab") as f:
        f.write(b"\0")
    monkeypatch.setattr("joblib.load", lambda *a: pytest.fail("a tampered pickle was loaded"))
    assert f"{name} has sha256" in refusal(artifacts, caplog)


def test_the_manifest_may_only_name_files_of_the_model_folder(artifacts, caplog):
    edit_manifest(artifacts, lambda m: m["artifacts"].update({"../secret": "0" * 64}))
    assert "lists '../secret', which is not a file name" in refusal(artifacts, caplog)


def test_every_listed_artifact_is_verified(artifacts, caplog):
    (artifacts / "notes.txt").write_text("extra")
    edit_manifest(artifacts, lambda m: m["artifacts"].update({"notes.txt": "0" * 64}))
    assert "notes.txt has sha256" in refusal(artifacts, caplog)


def test_a_missing_artifact_is_refused(artifacts, caplog):
    (artifacts / score.CLASSIFIER_FILE).unlink()
    assert f"cannot read {artifacts / score.CLASSIFIER_FILE}" in refusal(artifacts, caplog)


def edit_manifest(folder: Path, change) -> None:
    path = folder / score.MANIFEST_FILE
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda m: m["artifacts"].update({score.CLASSIFIER_FILE: 1}), '"artifacts" in manifest'),
        (lambda m: m.update({"libraries": ["xgboost"]}), '"libraries" in manifest.json must be'),
        (lambda m: m["libraries"].update({"xgboost": 3.2}), '"libraries" in manifest.json must be'),
        (lambda m: m.update({"artifacts": None}), '"artifacts" in manifest.json must be'),
        (lambda m: m.update({"features": "CreditScore"}), '"features" in manifest.json must be'),
        (lambda m: m["artifacts"].update({"a\0b": "0" * 64}), "which is not a file name"),
    ],
)
def test_a_manifest_of_the_wrong_shape_is_one_refusal(artifacts, caplog, change, fragment):
    edit_manifest(artifacts, change)
    assert fragment in refusal(artifacts, caplog)


def test_a_manifest_that_is_not_an_object_is_refused(artifacts, caplog):
    (artifacts / score.MANIFEST_FILE).write_text("[1, 2]")
    assert "must hold a JSON object" in refusal(artifacts, caplog)


def test_a_library_version_mismatch_is_refused(artifacts, caplog):
    edit_manifest(artifacts, lambda m: m["libraries"].update({"xgboost": "1.7.6"}))
    message = refusal(artifacts, caplog)
    assert "xgboost 3.2.0 (artifacts need 1.7.6)" in message


def test_a_python_minor_version_mismatch_is_refused(artifacts, caplog):
    edit_manifest(artifacts, lambda m: m["libraries"].update({"python": "3.10.4"}))
    assert "(artifacts need 3.10)" in refusal(artifacts, caplog)


def test_features_in_another_order_are_refused(artifacts, caplog):
    edit_manifest(artifacts, lambda m: m["features"].reverse())
    assert "manifest.json lists the features" in refusal(artifacts, caplog)


def test_a_fast_path_that_disagrees_with_the_reference_is_refused(monkeypatch, caplog):
    real = score.Scorer.scores
    monkeypatch.setattr(score.Scorer, "scores", lambda self, rows: real(self, rows) + 1e-4)
    assert "differs from the reference by 1.00e-04" in refusal(ARTIFACTS, caplog)


def test_an_unknown_preprocessing_step_is_refused(artifacts, caplog, monkeypatch):
    import joblib
    from sklearn.preprocessing import MinMaxScaler

    from scoring import safe_load

    pipeline = joblib.load(artifacts / score.PIPELINE_FILE)
    columns = pipeline.steps[0][1]
    columns.transformers_[1] = ("numbers", MinMaxScaler(), columns.transformers_[1][2])
    # Past the allow-list of the types the service loads, to reach the fast path's own rule.
    allowed = (*safe_load.ALLOWED, "sklearn.preprocessing._data.MinMaxScaler")
    monkeypatch.setattr(safe_load, "ALLOWED", allowed)  # as training imports it
    monkeypatch.setattr(score.artifacts.safe_load, "ALLOWED", allowed)  # as the service does
    (artifacts / safe_load.FILE).write_bytes(safe_load.dumps(pipeline))
    digest = train.sha256(artifacts / safe_load.FILE)
    edit_manifest(artifacts, lambda m: m["artifacts"].update({safe_load.FILE: digest}))
    assert "no fast path for the preprocessing step 'numbers'" in refusal(artifacts, caplog)


@pytest.mark.parametrize(
    "required, key, fragment",
    [
        (None, None, "set CHURN_SCORING_KEY to a key of at least 16"),
        ("true", "short", "set CHURN_SCORING_KEY to a key of at least 16"),
        ("false", KEY, "CHURN_REQUIRE_KEY=false contradicts"),
        ("no", None, "CHURN_REQUIRE_KEY must be 'true' or 'false'"),
        ("true", "clé-de-service-assez-longue", "must be printable ASCII"),
        ("true", "a-key-long-enough\x07", "must be printable ASCII"),
    ],
)
def test_authentication_settings_are_checked(monkeypatch, required, key, fragment):
    for name, value in ((score.REQUIRE_ENV, required), (score.KEY_ENV, key)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with pytest.raises(score.StartupError, match=fragment):
        score.read_key()


def test_authentication_off_must_be_explicit(monkeypatch, caplog):
    monkeypatch.setenv(score.REQUIRE_ENV, "false")
    monkeypatch.delenv(score.KEY_ENV, raising=False)
    assert score.read_key() is None
    assert "authentication is off" in caplog.text


# -- run(): what the server calls ---------------------------------------------------------------


def call(module, method="POST", data=None, auth=f"Bearer {KEY}", **kwargs):
    headers = {"Authorization": auth} if auth else {}
    kwargs.setdefault("content_type", "application/json")
    builder = EnvironBuilder(method=method, data=data, headers=headers, **kwargs)
    return module.run(builder.get_request())


def test_run_returns_the_original_json_text(keyed):
    answer = call(keyed, data=body([SAMPLE]))
    assert isinstance(answer, str)
    assert np.array(json.loads(answer)).shape == (1, 2)


@pytest.mark.parametrize("auth", [None, "Bearer wrong", f"Basic {KEY}", KEY, f"Bearer {KEY}x"])
def test_run_needs_the_key(keyed, auth):
    answer = call(keyed, data=body([SAMPLE]), auth=auth)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert "Authorization: Bearer" in answer.get_json()["message"]


def test_run_accepts_the_scheme_in_any_case(keyed):
    assert isinstance(call(keyed, data=body([SAMPLE]), auth=f"bearer {KEY}"), str)


@pytest.mark.parametrize(
    "kwargs, status",
    [
        ({"method": "GET"}, 405),
        ({"method": "PUT", "data": body([SAMPLE])}, 405),
        ({"data": body([SAMPLE]), "content_type": "text/plain"}, 415),
        ({"data": "data=1", "content_type": "application/x-www-form-urlencoded"}, 415),
        ({"data": b"x" * (score.MAX_BODY_BYTES + 1)}, 413),
        ({"data": body([[1]])}, 400),
    ],
)
def test_run_answers_bad_requests_with_4xx_json(keyed, kwargs, status):
    answer = call(keyed, **kwargs)
    assert answer.status_code == status
    assert answer.get_json()["message"]


def test_options_follows_the_key_rule_like_every_other_method(keyed):
    """No CORS preflight: a browser page would have to hold the service key."""
    assert call(keyed, method="OPTIONS", auth=None).status_code == 401
    allowed = call(keyed, method="OPTIONS")
    assert allowed.status_code == 405 and allowed.headers["Allow"] == "POST"


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": t}
        for t in [
            "application/json", "Application/JSON", "application/json; charset=latin-1",
            "application/vnd.api+json", "APPLICATION/X+JSON;q=1", " application/json ",
            "application/+json", "application/jsonx", "text/json", "garbage", ";", "",
        ]
    ]
    + [{}, {"Content-Length": "-1"}, {"Content-Length": "x"}, {"Transfer-Encoding": "chunked"}],
)  # fmt: skip
def test_the_body_checks_read_the_environ_as_werkzeug_does(headers):
    """httpbody reads the environ itself, without werkzeug's properties, to the same result."""
    request = EnvironBuilder(method="POST", headers=headers, data=b"{}").get_request()
    environ = request.environ
    assert score.httpbody.is_json(environ.get("CONTENT_TYPE", "")) == request.is_json
    assert score.httpbody.get_content_length(environ) == request.content_length


def test_init_freezes_what_it_built_and_collects_less_often(keyed):
    import gc

    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == keyed.GC_ALLOCATIONS


# -- the OpenAPI description ------------------------------------------------------------------


def test_committed_swagger_is_generated_from_the_artifacts(scorer):
    manifest = json.loads((ARTIFACTS / score.MANIFEST_FILE).read_text())
    committed = json.loads((ROOT / "scoring" / "swagger2.json").read_text())
    assert committed == swagger(scorer, manifest), "run `make swagger` and commit it"
