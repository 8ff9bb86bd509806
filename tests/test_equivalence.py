"""The fast path returns what the original entry script returns, for any valid rows."""

import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import original_score
from scoring import score
from tests.test_score import ARTIFACTS


@pytest.fixture(scope="module")
def scripts():
    previous = os.environ.get("AZUREML_MODEL_DIR")
    os.environ["AZUREML_MODEL_DIR"] = str(ARTIFACTS)
    original_score.init()
    if previous is None:
        del os.environ["AZUREML_MODEL_DIR"]
    else:
        os.environ["AZUREML_MODEL_DIR"] = previous
    return score.load(str(ARTIFACTS))[0], original_score


def value(column: score.Column) -> st.SearchStrategy:
    if column.kind == "category":
        return st.sampled_from(column.categories)
    integers = st.integers(int(column.low), int(column.high))
    if column.kind == "integer":
        return integers
    # amounts of every size, with and without cents, at and near the bounds
    floats = st.floats(column.low, column.high, allow_nan=False, allow_infinity=False)
    cents = st.integers(0, 10_000_000).map(lambda c: c / 100)
    return st.one_of(integers, floats, cents, st.sampled_from([column.low, column.high]))


def rows(scorer: score.Scorer) -> st.SearchStrategy:
    row = st.tuples(*(value(c) for c in scorer.columns)).map(list)
    block = score.kernel.BLOCK_ROWS  # rows the kernel sums side by side
    within = st.lists(row, min_size=1, max_size=block)
    return within | st.lists(row, min_size=block + 1, max_size=80)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_path_equals_the_original_script(scripts, data):
    scorer, original = scripts
    batch = data.draw(rows(scorer))
    names = [c.name for c in scorer.columns]
    as_objects = data.draw(st.booleans())
    sent = [dict(zip(names, r)) for r in batch] if as_objects else batch
    ours = np.array(json.loads(scorer.score(json.dumps({"data": sent}).encode())))
    reference = np.array(json.loads(original.run(json.dumps({"data": batch}))))
    assert ours.shape == reference.shape == (len(batch), 2)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=score.TOLERANCE)
