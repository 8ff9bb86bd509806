"""The reference profile: how every feature and the predicted p_leave are distributed over the
training rows, for `make drift` to compare captured rows with.

Each distribution is a list of bins with the share of rows in each:
- text categories and numbers with few distinct values (NumOfProducts, Tenure, flags): one bin
  per value seen, plus an "other" bin (share 0) for values training never saw;
- other numbers: deciles of the training rows, the edges deduplicated (Balance is 0 for a third
  of the customers), open at both ends so that any value falls in a bin.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

PROFILE_FILE = "reference_profile.json"
PREDICTION = "p_leave"
MAX_DISCRETE = 20  # numbers with at most this many distinct values are binned by value
QUANTILES = np.linspace(0.1, 0.9, 9)
OTHER = "other"


def describe(values: pd.Series) -> dict:
    """The bins of one column over the training rows and each bin's share."""
    values = values.dropna()
    text = not pd.api.types.is_numeric_dtype(values)
    if text or values.nunique() <= MAX_DISCRETE:
        shares = values.value_counts(normalize=True)
        keys = sorted(shares.index, key=lambda v: (isinstance(v, str), v))
        return {
            "kind": "category" if text else "discrete",
            "values": [v.item() if hasattr(v, "item") else v for v in keys] + [OTHER],
            "shares": [round(float(shares[v]), 6) for v in keys] + [0.0],
        }
    edges = sorted(set(np.quantile(values.to_numpy(float), QUANTILES).round(6).tolist()))
    counts = np.bincount(bin_numbers(values.to_numpy(float), edges), minlength=len(edges) + 1)
    return {
        "kind": "number",
        "edges": edges,
        "shares": [round(float(c), 6) for c in counts / counts.sum()],
    }


def bin_numbers(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Bin i holds edges[i-1] < value <= edges[i] (bin 0 and the last one are open)."""
    return np.searchsorted(np.asarray(edges), values, side="left")


def bin_counts(spec: dict, values: list) -> list[int]:
    """How many of `values` fall in each bin of a profile entry."""
    if spec["kind"] == "number":
        numbers = np.asarray([v for v in values if isinstance(v, int | float)], float)
        numbers = numbers[~np.isnan(numbers)]
        return np.bincount(bin_numbers(numbers, spec["edges"]), minlength=len(spec["shares"]))
    index = {v: i for i, v in enumerate(spec["values"][:-1])}
    counts = [0] * len(spec["values"])
    for value in values:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        counts[index.get(value, len(counts) - 1)] += 1
    return counts


def build(features: pd.DataFrame, p_leave: np.ndarray) -> dict:
    if not len(features) or len(features) != len(p_leave) or math.isnan(float(p_leave.sum())):
        raise ValueError("the profile needs training rows and one p_leave for each")
    return {
        "rows": len(features),
        "features": {name: describe(features[name]) for name in features.columns},
        PREDICTION: describe(pd.Series(np.asarray(p_leave, float), name=PREDICTION)),
    }


def write(profile: dict, out: Path) -> Path:
    path = out / PROFILE_FILE
    path.write_text(json.dumps(profile, indent=1) + "\n")
    return path
