"""The fast path: what the fitted pipeline and trees compute, derived from them once at start-up.

The preprocessing becomes a one-hot table per category and one affine map for the scaled
numbers; the trees become bit tables (trees.py). A row's categories and scaled numbers then
select lines of those tables, which the compiled kernel (kernel.py) reads for any number of rows.
"""

import json
from math import prod

import kernel
import numpy as np
import orjson
from contract import CONTRACT, Column, Columns, Contract
from trees import NoFastPath, compile_trees

# The most lines a table of combined inputs may hold (404 bytes each for 101 trees).
GROUP_LINES = 1024


class Scorer:
    """The request contract with the fitted categories, the preprocessing and the trees."""

    def __init__(self, pipeline, booster, features: list[str]):
        if features != [c.name for c in CONTRACT]:
            raise NoFastPath(
                f"manifest.json lists the features {features}, but this script serves "
                f"{[c.name for c in CONTRACT]}"
            )
        columns = list(CONTRACT)
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
        self.onehot: list[tuple[int, list, slice]] = []  # position, table, output slice
        # positions, means, scales, output slice
        self.scaled: tuple[list[int], list[float], list[float], slice] | None = None
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
                self.scaled = ([index[c] for c in used], mean.tolist(), scale.tolist(), where)
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
            self.onehot.append((index[name], table.tolist(), slice(start, start + len(table[0]))))
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
        self._derive_lines()

    def _derive_lines(self) -> None:
        """What selects the trees' mask lines for a row. Each input selects one of a few masks:
        a category's code one made from the lines of its one-hot features, a scaled number one
        by its float32 value among its feature's distinct thresholds. Inputs are grouped, fewest
        masks first, into tables of every combination (at most GROUP_LINES lines), so that a
        row needs one line per group rather than one per input. The tables and what selects
        their lines become the kernel's Model, compiled once (kernel.py)."""
        inputs = []  # (masks, key, cuts): key is a contract position or a scaled column
        for position, table, where in self.onehot:
            codes = [[(where.start + j, value) for j, value in enumerate(line)] for line in table]
            inputs.append((np.array([self.trees.mask_of(c) for c in codes]), position, None))
        if self.scaled is not None:
            where = self.scaled[3]
            for key, feature in enumerate(range(where.start, where.stop)):
                cuts, masks = self.trees.cuts(feature)
                inputs.append((masks, key, cuts))
        groups: list[list] = [[]]
        for found in sorted(inputs, key=lambda i: len(i[0])):
            if groups[-1] and len(found[0]) * prod(len(g[0]) for g in groups[-1]) > GROUP_LINES:
                groups.append([])
            groups[-1].append(found)
        tables, members, starts, cuts = [], [], [0], []
        coded = sorted(key for masks, key, found in inputs if found is None)  # codes' rows
        for group in groups:
            table = self.trees.mask_of([])[None, :]
            for masks, _, _ in group:  # each new member varies fastest
                table = (table[:, None, :] & masks[None, :, :]).reshape(-1, table.shape[1])
            sizes = [len(masks) for masks, _, _ in group]
            for at, (_, key, found) in enumerate(group):
                stride = prod(sizes[at + 1 :])
                if found is None:  # a category: its code's row in the codes array
                    members.append((coded.index(key), stride, -1, -1))
                else:  # a scaled number: its thresholds in cuts
                    members.append((key, stride, len(cuts), len(cuts) + len(found)))
                    cuts.extend(found.tolist())
            starts.append(len(members))
            tables.append(table)
        firsts = self.trees.use_tables(tables)
        positions, mean, scale, _ = self.scaled or ([], [], [], None)
        self.positions = positions
        # (contract position, category -> code) of each category the trees read
        self.lookups = [(i, self.contract.lookups[i]) for i in coded]
        self.model = kernel.Model(
            mean=np.array(mean, np.float64),
            scale=np.array(scale, np.float64),
            firsts=np.array(firsts, np.intp),
            starts=np.array(starts, np.intp),
            members=np.array(members, np.intp).reshape(-1, 4),
            cuts=np.array(cuts, np.float32),
            masks=self.trees.masks,
            leaves=kernel.leaf_slots(self.trees.values),
        )
        self.kernel = kernel.compile_kernel(self.model)

    # -- scoring ------------------------------------------------------------------------------

    def scores(self, columns: Columns) -> np.ndarray:
        """[[p_stay, p_leave], ...] in float32, as XGBClassifier.predict_proba computes them:
        every tree's leaf summed in float32 in tree order, then XGBoost's logistic function."""
        values = columns.values
        rows = len(values[0])
        if rows == 1:  # no numpy call on the way in (most requests are one row): plain floats
            row = [float(values[i][0]) for i in self.positions]
            row += [float(lookup[values[i][0]]) for i, lookup in self.lookups]
            return self.kernel.row(*row)
        numbers = np.array([values[i] for i in self.positions], np.float64)
        coded = np.array(
            [tuple(map(lookup.__getitem__, values[i])) for i, lookup in self.lookups], np.intp
        )
        out = np.empty((rows, 2), np.float32)
        self.kernel.columns(
            numbers.reshape(len(self.positions), rows), coded.reshape(len(self.lookups), rows), out
        )
        return out

    def score(self, body: bytes) -> str:
        """The JSON text of [[p_stay, p_leave], ...] for a request body."""
        return answer(self.scores(self.contract.read(body)))


def answer(scores: np.ndarray) -> str:
    """The JSON text of [[p_stay, p_leave], ...], written from the float32 values."""
    return orjson.dumps(scores, option=orjson.OPT_SERIALIZE_NUMPY).decode()
