"""The fast path: what the fitted pipeline and trees compute, derived from them once at start-up.

The preprocessing becomes a one-hot table per category and one affine map for the scaled
numbers. The trees become the bit tables of QuickScorer (Lucchese et al., SIGIR 2015): a row
goes right at every node whose threshold is at most its value, so for each feature the nodes
sorted by threshold turn "which nodes send this row right" into a prefix, and the prefix's
combined leaf mask is read from a table. The reached leaf of each tree is the lowest leaf no
right turn ruled out. Comparisons are XGBoost's own (float32 values against float32 thresholds)
and leaves are summed in float32 in tree order, as XGBoost does.
"""

import json
import sys
from array import array
from bisect import bisect_right

import numpy as np
import orjson
from contract import CONTRACT, FEW_ROWS, Column, Columns, Contract


class NoFastPath(ValueError):
    """The artifacts hold something this fast path does not reproduce."""


class Scorer:
    """The request contract with the fitted categories, the preprocessing and the trees."""

    def __init__(self, pipeline, booster, features: list[str]):
        if features != [c.name for c in CONTRACT]:
            raise NoFastPath(
                f"manifest.json lists the features {features}, but this script serves "
                f"{[c.name for c in CONTRACT]}"
            )
        columns = list(CONTRACT)
        self.numeric = [i for i, c in enumerate(columns) if c.kind != "category"]
        self._derive_preprocessing(pipeline, columns)
        self.contract = Contract(columns)
        self.columns = self.contract.columns
        self._derive_trees(booster)
        self.booster = booster
        booster.set_param({"nthread": 1})  # server workers, not threads, use the cores

    # -- derivation from the artifacts --------------------------------------------------------

    def _derive_preprocessing(self, pipeline, columns: list[Column]) -> None:
        from sklearn.compose import ColumnTransformer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        steps = pipeline.steps if isinstance(pipeline, Pipeline) else [(None, pipeline)]
        if len(steps) != 1 or not isinstance(steps[0][1], ColumnTransformer):
            raise NoFastPath("the preprocessing pipeline must hold exactly one ColumnTransformer")
        transformer = steps[0][1]
        index = {c.name: i for i, c in enumerate(columns)}
        self.width = max(s.stop for s in transformer.output_indices_.values())
        self.onehot: list[tuple[int, np.ndarray, slice]] = []  # column, table, output slice
        self.few_onehot: list[tuple[int, list, slice]] = []  # the same tables as lists
        self.scaled: tuple[list[int], np.ndarray, np.ndarray, slice] | None = None
        for name, step, used in transformer.transformers_:
            where = transformer.output_indices_[name]
            if step == "drop" or where.start == where.stop:
                continue
            if not set(used) <= set(index):
                raise NoFastPath(f"the preprocessing step {name!r} reads unknown columns {used}")
            if isinstance(step, OneHotEncoder) and not step._infrequent_enabled:
                self._derive_onehot(step, used, index, where, columns)
            elif isinstance(step, StandardScaler) and self.scaled is None:
                mean = step.mean_ if step.with_mean else np.zeros(len(used))
                scale = step.scale_ if step.with_std else np.ones(len(used))
                kinds = {columns[index[c]].kind for c in used}
                if kinds - {"integer", "number"}:
                    raise NoFastPath(f"scaled columns {used} must all be numeric")
                self.scaled = ([self.numeric.index(index[c]) for c in used], mean, scale, where)
                positions = [index[c] for c in used]
                self.few_scaled = (positions, mean.tolist(), scale.tolist(), where)
            else:
                raise NoFastPath(f"no fast path for the preprocessing step {name!r}: {step!r}")
        unencoded = [c.name for c in columns if c.kind == "category" and not c.categories]
        if unencoded:
            raise NoFastPath(f"the preprocessing pipeline does not encode {unencoded}")

    def _derive_onehot(self, encoder, used, index, where: slice, columns: list[Column]) -> None:
        start = where.start
        for position, name in enumerate(used):
            column = columns[index[name]]
            categories = tuple(encoder.categories_[position])
            if column.kind != "category" or not all(isinstance(c, str) for c in categories):
                raise NoFastPath(f"{name} is one-hot encoded but is not a text category")
            table = np.eye(len(categories))
            dropped = None if encoder.drop_idx_ is None else encoder.drop_idx_[position]
            if dropped is not None:
                table = np.delete(table, dropped, axis=1)
            columns[index[name]] = Column(name, "category", categories=categories)
            self.onehot.append((index[name], table, slice(start, start + table.shape[1])))
            self.few_onehot.append((index[name], table.tolist(), self.onehot[-1][2]))
            start += table.shape[1]
        if start != where.stop:
            raise NoFastPath("the one-hot encoder's output width is not the one derived")

    def _derive_trees(self, booster) -> None:
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
            raise NoFastPath("no fast path for this XGBoost model: expected binary gbtree")
        if int(params["num_feature"]) != self.width:
            raise NoFastPath(f"the classifier expects {params['num_feature']} features")
        base = np.float32(params["base_score"].strip("[]"))
        bias = -np.log(np.float32(1) / base - np.float32(1))  # logit, as XGBoost does
        self.trees = compile_trees(trees, self.width, bias)

    # -- scoring ------------------------------------------------------------------------------

    def features(self, columns: Columns) -> np.ndarray:
        """The preprocessing pipeline's output for validated rows, in float32 as XGBoost reads."""
        values, codes, numbers = columns
        if numbers is None:
            numbers = np.array([values[i] for i in self.numeric], np.float64)
        out = np.empty((numbers.shape[1], self.width), np.float64)
        for position, table, where in self.onehot:
            out[:, where] = table[np.array(codes[position], np.intp)]
        if self.scaled is not None:
            used, mean, scale, where = self.scaled
            out[:, where] = (numbers[used].T - mean) / scale
        return out.astype(np.float32)

    def few_features(self, columns: Columns) -> list[array]:
        """features() in plain Python, cheaper for a few rows: the same float64 arithmetic,
        rounded to float32 the same way."""
        values, codes, _ = columns
        rows = []
        for row in range(len(values[0])):
            out = [0.0] * self.width
            for position, table, where in self.few_onehot:
                out[where] = table[codes[position][row]]
            if self.scaled is not None:
                used, mean, scale, where = self.few_scaled
                for at, i, m, s in zip(range(where.start, where.stop), used, mean, scale):
                    out[at] = (values[i][row] - m) / s
            rows.append(array("f", out))
        return rows

    def p_leave(self, columns: Columns) -> np.ndarray:
        """P(leave) per row, float32: every tree's leaf summed in float32 in tree order, as
        XGBoost does, then its logistic function."""
        # The bias, then tree by tree. Over several rows numpy adds line to line, in order; for
        # one row it would sum pairwise, so a few rows accumulate instead (4x slower on many).
        if len(columns.values[0]) <= FEW_ROWS:
            terms = self.trees.few_leaves(self.few_features(columns))
            margin = np.cumsum(terms, axis=0, dtype=np.float32)[-1]
        else:
            terms = self.trees.leaves(self.features(columns))
            margin = np.add.reduce(terms, axis=0, dtype=np.float32)
        return np.float32(1) / (np.float32(1) + np.exp(-margin.astype(np.float64)).astype("f4"))

    def score(self, body: bytes) -> str:
        """The JSON text of [[p_stay, p_leave], ...] for a request body."""
        return answer(self.p_leave(self.contract.read(body)))


def pairs(leave: np.ndarray) -> np.ndarray:
    """[[p_stay, p_leave], ...] in float32, as XGBClassifier.predict_proba computes them."""
    out = np.empty((len(leave), 2), np.float32)
    out[:, 0] = np.float32(1) - leave
    out[:, 1] = leave
    return out


def answer(leave: np.ndarray) -> str:
    """The JSON text of [[p_stay, p_leave], ...], written from the float32 values."""
    return orjson.dumps(pairs(leave), option=orjson.OPT_SERIALIZE_NUMPY).decode()


def sortable(x: np.ndarray) -> np.ndarray:
    """float32 -> int64 keys in the same order (for values that are not NaN)."""
    bits = (x + np.float32(0)).view(np.int32).astype(np.int64)  # + 0 turns -0.0 into 0.0
    return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)


class Trees:
    """A forest as QuickScorer bit tables: which leaf of each tree a row of features reaches."""

    def __init__(self, thresholds: list[np.ndarray], masks: np.ndarray, values: np.ndarray):
        self.count = len(values)
        self.masks = masks  # per feature, (splits + 1) lines of one leaf mask per tree
        # each feature's thresholds, as Python floats for bisect and as one sorted key array
        self.thresholds = [t.tolist() for t in thresholds]
        self.keys = np.concatenate(
            [sortable(t) + (feature << 32) for feature, t in enumerate(thresholds)]
        )
        sizes = [len(t) for t in thresholds]
        self.first = [sum(sizes[:f]) + f for f in range(len(sizes))]  # feature's first line
        self.offsets = np.array([f for f in range(len(sizes))], np.intp)  # searchsorted -> line
        self.values = values.ravel()  # (trees, most leaves) leaf values, float32
        self.base = np.arange(self.count, dtype=np.intp) * values.shape[1]  # each tree's first
        # the same tables for few_leaves(): each line as one integer, lane i for tree i
        self.lines = [int.from_bytes(line.tobytes(), sys.byteorder) for line in masks]
        self.size = masks.shape[1] * masks.itemsize
        lane = masks.itemsize * 8
        self.ones = sum(1 << (lane * tree) for tree in range(self.count))

    def leaves(self, x: np.ndarray) -> np.ndarray:
        """(1 + trees, rows) float32: the bias, then the value of the leaf each row of x reaches
        in each tree."""
        keys = sortable(x) + (np.arange(x.shape[1], dtype=np.int64) << 32)
        lines = np.searchsorted(self.keys, keys, side="right") + self.offsets
        mask = self.masks[lines[:, 0]]
        for feature in range(1, x.shape[1]):
            mask &= self.masks[lines[:, feature]]
        return self._reached(mask)

    def few_leaves(self, rows: list[array]) -> np.ndarray:
        """leaves() for a few rows, in Python: each row's mask is one integer with a lane of
        bits per tree, and its lowest leaves are found for all lanes at once (no lane is zero,
        so subtracting 1 from each never borrows across lanes)."""
        found = []
        for row in rows:
            mask = -1
            for first, thresholds, value in zip(self.first, self.thresholds, row):
                mask &= self.lines[first + bisect_right(thresholds, value)]
            found.append((mask & ~(mask - self.ones)).to_bytes(self.size, sys.byteorder))
        lowest = np.frombuffer(b"".join(found), self.masks.dtype).reshape(len(rows), -1)
        return self.values.take((np.bitwise_count(lowest - 1) + self.base).T)

    def _reached(self, mask: np.ndarray) -> np.ndarray:
        lowest = mask & (~mask + 1)  # the lowest leaf no right turn ruled out
        return self.values.take((np.bitwise_count(lowest - 1) + self.base).T)


def compile_trees(trees: list[dict], features: int, bias: float) -> Trees:
    """The bit tables of XGBoost trees (JSON model dump), leaves numbered left to right. The
    bias comes first, as a tree of one leaf, so that the sum starts from it as XGBoost's does."""
    splits: list[list[tuple[float, int, int]]] = [[] for _ in range(features)]
    values = [[bias]]
    for number, tree in enumerate(trees, start=1):
        left, right = tree["left_children"], tree["right_children"]
        leaves: list[float] = []

        def visit(node: int, tree=tree, left=left, right=right, leaves=leaves, number=number):
            """Number the leaves under node; record its split's leaves-ruled-out mask."""
            if left[node] == -1:
                leaves.append(tree["split_conditions"][node])
                return
            first = len(leaves)
            visit(left[node])
            ruled_out = sum(1 << leaf for leaf in range(first, len(leaves)))
            feature = tree["split_indices"][node]
            splits[feature].append((tree["split_conditions"][node], number, ruled_out))
            visit(right[node])

        visit(0)
        values.append(leaves)
    most = max(map(len, values))
    if most > 64:
        raise NoFastPath(f"a tree has {most} leaves; the fast path takes at most 64")
    dtype = np.uint32 if most <= 32 else np.uint64
    thresholds, tables = [], []
    for found in splits:
        found.sort(key=lambda s: np.float32(s[0]))
        mask = np.full(len(values), np.iinfo(dtype).max, dtype)
        tables.append(mask.copy())
        for _, number, ruled_out in found:
            mask[number] &= ~dtype(ruled_out)
            tables.append(mask.copy())
        thresholds.append(np.array([s[0] for s in found], np.float32))
    padded = np.zeros((len(values), most), np.float32)
    for number, leaves in enumerate(values):
        padded[number, : len(leaves)] = leaves
    return Trees(thresholds, np.array(tables, dtype), padded)
