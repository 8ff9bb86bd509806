"""The scoring kernel: rows in, [[p_stay, p_leave], ...] out, compiled by numba to machine code
the first time it runs (in init(), by the start-up check). It does what fastpath.py and trees.py
derive, in one call whatever the number of rows: a row's scaled numbers and category codes select
one line per table, the lines ANDed give each tree's reached leaf, and the leaves are summed in
float32 in tree order, as XGBoost sums them.

Each model gets its own compiled entry points (compile_kernel), with the model's arrays built in
as constants: a call then passes only the rows, which is what a one-row request pays for.
"""

import hashlib
import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numba import njit

# Rows whose sums advance together, tree by tree: one row's sum is a chain of float32 additions
# that must stay in tree order; a few rows side by side keep the core busy while each waits.
BLOCK_ROWS = 8
# The lowest set bit of a mask times this de Bruijn constant has a distinct top 6 bits for each
# of the 64 bits: its leaf's slot in Model.leaves.
DE_BRUIJN = np.uint64(0x03F79D71B4CB0A89)
SHIFT = np.uint64(58)
ONE = np.uint64(1)


class Model(NamedTuple):
    """What the kernel reads, derived once at start-up (fastpath.py)."""

    mean: np.ndarray  # (numbers,) float64: the scaled columns' means ...
    scale: np.ndarray  # ... and scales
    firsts: np.ndarray  # (tables,) intp: each table's first line in masks
    starts: np.ndarray  # (tables + 1,) intp: each table's members, members[starts[t]:starts[t+1]]
    members: np.ndarray  # (members, 4) intp: key, stride, first and end cut (-1, -1: a code)
    cuts: np.ndarray  # float32: each scaled number's distinct thresholds, sorted, one after another
    masks: np.ndarray  # (lines, trees) uint32 or uint64: each line, one leaf mask per tree
    leaves: np.ndarray  # (trees, 64) float32: each tree's leaf values by slot (DE_BRUIJN)


def leaf_slots(values: np.ndarray) -> np.ndarray:
    """(trees, 64) float32: leaf n of each tree at the slot of the mask bit 1 << n."""
    slots = np.zeros((len(values), 64), np.float32)
    with np.errstate(over="ignore"):  # the product wraps modulo 2**64, as in the kernel
        for n in range(values.shape[1]):
            slots[:, int((ONE << np.uint64(n)) * DE_BRUIJN >> SHIFT)] = values[:, n]
    return slots


@njit(inline="always")
def bisect_right(ordered, value, low, high):
    """Where value goes in ordered[low:high], after any equal to it (as bisect.bisect_right)."""
    while low < high:
        middle = (low + high) >> 1
        if ordered[middle] <= value:
            low = middle + 1
        else:
            high = middle
    return low


@njit(inline="always")
def slot(bits):
    """The slot in Model.leaves of the lowest leaf a tree's mask leaves possible."""
    bits = np.uint64(bits)
    return ((bits & (~bits + ONE)) * DE_BRUIJN) >> SHIFT


@njit(nogil=True, error_model="numpy")
def score(numbers, codes, out, model) -> None:
    """out[r] = [p_stay, p_leave] for each row r of numbers (scaled columns, float64) and codes
    (category columns, intp), both (columns, rows)."""
    mean, scale, firsts, starts, members, cuts, masks, leaves = model
    rows, trees = numbers.shape[1], masks.shape[1]
    scaled = np.empty(len(mean), np.float32)
    mask = np.empty((BLOCK_ROWS, trees), masks.dtype)
    total = np.empty(BLOCK_ROWS, np.float32)
    for start in range(0, rows, BLOCK_ROWS):
        block = min(BLOCK_ROWS, rows - start)
        for b in range(block):
            row = start + b
            for j in range(len(mean)):  # float64, rounded to float32 as XGBoost reads its input
                scaled[j] = np.float32((numbers[j, row] - mean[j]) / scale[j])
            for table in range(len(firsts)):
                line = firsts[table]
                for m in range(starts[table], starts[table + 1]):
                    key, stride = members[m, 0], members[m, 1]
                    first, end = members[m, 2], members[m, 3]
                    if first < 0:
                        found = codes[key, row]
                    else:
                        found = bisect_right(cuts, scaled[key], first, end) - first
                    line += found * stride
                if table == 0:  # element by element: a row slice would be an array view
                    for tree in range(trees):
                        mask[b, tree] = masks[line, tree]
                else:
                    for tree in range(trees):
                        mask[b, tree] &= masks[line, tree]
        for b in range(block):  # tree 0 is the bias, a tree of one leaf
            total[b] = leaves[0, slot(mask[b, 0])]
        for tree in range(1, trees):
            for b in range(block):
                total[b] += leaves[tree, slot(mask[b, tree])]
        for b in range(block):  # XGBoost's float32 sigmoid (src/common/math.h, Sigmoid(float))
            # its guard against exp's overflow; its 1e-16 changes no float32 sum of at least 1
            x = min(-total[b], np.float32(88.7))
            leave = np.float32(1) / (math.exp(x) + np.float32(1))  # exp of a float32: expf
            out[start + b, 0] = np.float32(1) - leave
            out[start + b, 1] = leave


class Kernel(NamedTuple):
    """A model's compiled entry points."""

    columns: Callable  # (numbers (numbers, rows), codes (categories, rows), out (rows, 2))
    # (*values: the numbers, then the codes, all floats: other types would compile anew) -> out
    row: Callable


_compiled: dict[bytes, Kernel] = {}


def compile_kernel(model: Model) -> Kernel:
    """The model's entry points, compiled at their first call (the start-up check); compiled
    once per process for models with the same arrays, and kept while the process lives (a
    server loads one model)."""
    digest = hashlib.sha256()
    for array in model:
        digest.update(str((array.dtype, array.shape)).encode() + array.tobytes())
    key = digest.digest()
    if key not in _compiled:
        _compiled[key] = _entry_points(model)
    return _compiled[key]


def _entry_points(model: Model) -> Kernel:
    # numba takes tuples and arrays of the enclosing scope as constants of the compiled code
    constants = tuple(model)
    count = len(model.mean)  # the scaled numbers; the codes follow them in a row's values

    @njit(nogil=True, error_model="numpy")
    def columns(numbers, codes, out):
        score(numbers, codes, out, constants)

    @njit(nogil=True, error_model="numpy")
    def row(*values):
        numbers = np.empty((count, 1), np.float64)
        codes = np.empty((len(values) - count, 1), np.intp)
        for j in range(count):
            numbers[j, 0] = values[j]
        for j in range(len(values) - count):
            codes[j, 0] = np.intp(values[count + j])
        out = np.empty((1, 2), np.float32)
        score(numbers, codes, out, constants)
        return out

    return Kernel(columns, row)
