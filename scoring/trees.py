"""The trees as QuickScorer bit tables (Lucchese et al., SIGIR 2015), compiled from XGBoost's JSON
model once at start-up: a row goes right at every node whose threshold is at most its value, so
for each feature the nodes sorted by threshold turn "which nodes send this row right" into a
prefix, and the prefix's combined leaf mask is a line of a table. The reached leaf of each tree
is the lowest leaf no right turn ruled out. Comparisons are XGBoost's own (float32 values against
float32 thresholds); kernel.py finds the leaves and sums them from these tables.
"""

from bisect import bisect_right

import numpy as np


class NoFastPath(ValueError):
    """The artifacts hold something this fast path does not reproduce."""


class Trees:
    """A forest as QuickScorer bit tables: which leaf of each tree a row reaches, from the
    lines of leaf masks its features select."""

    def __init__(self, thresholds: list[np.ndarray], masks: np.ndarray, values: np.ndarray):
        self.count = len(values)
        self.feature_masks = masks  # per feature, (splits + 1) lines of one leaf mask per tree
        # each feature's thresholds, sorted, as float32 for numpy and as Python floats for bisect
        self.sorted = thresholds
        self.thresholds = [t.tolist() for t in thresholds]
        sizes = [len(t) for t in thresholds]
        self.first = [sum(sizes[:f]) + f for f in range(len(sizes))]  # feature's first line
        self.values = values  # (trees, most leaves) leaf values, float32
        self.masks = masks[:0]  # what rows are scored from (use_tables)

    def mask_of(self, values: list[tuple[int, float]]) -> np.ndarray:
        """The leaves a row with these (feature, value) pairs may reach: the lines its values
        select combined. A row goes right at every node whose threshold is at most its value,
        as XGBoost's "value < threshold" goes left."""
        lines = self.feature_masks
        mask = np.full(self.count, np.iinfo(lines.dtype).max, lines.dtype)
        for feature, value in values:
            x = float(np.float32(value))
            mask &= lines[self.first[feature] + bisect_right(self.thresholds[feature], x)]
        return mask

    def cuts(self, feature: int) -> tuple[np.ndarray, np.ndarray]:
        """A feature's distinct thresholds, and the mask selected by a value that is at least
        none, one, two, ... of them."""
        every = self.sorted[feature]
        cuts = np.unique(every)
        passed = np.concatenate([[0], np.searchsorted(every, cuts, side="right")])
        return cuts, self.feature_masks[self.first[feature] + passed]

    def use_tables(self, tables: list[np.ndarray]) -> list[int]:
        """Score from these tables of masks from now on; return the first line of each."""
        self.masks = np.concatenate(tables)
        return np.cumsum([0] + [len(t) for t in tables[:-1]]).tolist()


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
