"""Exact path-dependent TreeSHAP for small LightGBM trees, fast.

A tree's path-dependent TreeSHAP values for a row depend only on the row's decision (left or
right) at each of the tree's internal nodes. A tree with ``k`` internal nodes therefore has at
most ``2**k`` distinct explanations. :class:`FastTreeShap` computes them all once, exactly
(Shapley values by brute force over feature subsets, with the cover-weighted value function
LightGBM's ``pred_contrib`` uses), and explains a row by finding its decision pattern in each
tree and adding that pattern's row of the table. Lantern's trees have 4 leaves (3 internal
nodes: 8 patterns), so this is a handful of comparisons and additions per tree, run down
blocks of rows so that the compiler can vectorise them.

Models with larger trees are explained by ``booster.predict(X, pred_contrib=True)`` itself;
:attr:`FastTreeShap.method` says which path a model takes. The compiled kernels are built by
numba on first use (not on import) and cached on disk where numba can write.
"""

from __future__ import annotations

import functools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal

import numpy as np

MAX_TABLE_NODES = 7
"""Trees with at most this many internal nodes (8 leaves) use tables (``2**k`` rows each)."""

TABLE_NODES_LIMIT = 12
"""The most ``max_table_nodes`` may be: 4,096 table rows per tree."""

ZERO_THRESHOLD = float(np.float32(1e-35))
"""LightGBM's ``kZeroThreshold`` (a float): inputs this close to zero are read as 0.0."""

BLOCK_ROWS = 512
"""Rows explained together: a block's features and contributions stay in the core's cache."""

_NAN_LEFT = 1
_ZERO_IS_MISSING = 2
_DEFAULT_LEFT = 4
_MISSING_TYPES = ("None", "Zero", "NaN")
_DUMPED_INFINITY = 1e300
_USE_PRED_CONTRIB = "use booster.predict(X, pred_contrib=True) for this model"


class UnsupportedModelError(ValueError):
    """The booster has something FastTreeShap does not replicate (e.g. categorical splits)."""


@dataclass(frozen=True)
class _Forest:
    """The trees with splits, flattened for the kernels (tree ``t``'s nodes are
    ``node_start[t]:node_start[t] + n_nodes[t]``, and likewise for its features and leaves).

    A leaf's path is its steps from the root: the node, 1 if the path goes left there, and
    the share of the node's training rows (cover) that went that way.
    """

    node_start: np.ndarray
    n_nodes: np.ndarray
    node_feature: np.ndarray
    node_threshold: np.ndarray
    node_flags: np.ndarray
    node_position: np.ndarray
    """Index of the node's feature among its tree's distinct features."""
    feature_start: np.ndarray
    n_features: np.ndarray
    tree_features: np.ndarray
    leaf_start: np.ndarray
    n_leaves: np.ndarray
    leaf_value: np.ndarray
    step_start: np.ndarray
    n_steps: np.ndarray
    step_node: np.ndarray
    step_left: np.ndarray
    step_share: np.ndarray
    base_value: float
    """The sum of every tree's expected value (cover-weighted mean of its leaves)."""
    constant: float
    """The summed output of trees without splits."""

    @property
    def largest(self) -> int:
        """Internal nodes of the largest tree."""
        return int(self.n_nodes.max(initial=0))


def _threshold(node: dict[str, Any]) -> float:
    """The split's threshold. The dump writes infinite thresholds (a split of the numbers
    from the missing values) as +-1e300; the booster compares with the infinity itself."""
    threshold = float(node["threshold"])
    return math.copysign(math.inf, threshold) if abs(threshold) >= _DUMPED_INFINITY else threshold


def _node_flags(node: dict[str, Any]) -> int:
    missing = node["missing_type"]
    if missing not in _MISSING_TYPES:
        raise UnsupportedModelError(f"unknown missing_type {missing!r}; {_USE_PRED_CONTRIB}")
    default_left = bool(node["default_left"])
    if missing == "None":
        # NaN is read as 0.0
        nan_left = 0.0 <= _threshold(node)
    else:
        nan_left = default_left
    return (
        _NAN_LEFT * nan_left + _ZERO_IS_MISSING * (missing == "Zero") + _DEFAULT_LEFT * default_left
    )


def _parse_tree(info: dict[str, Any]):
    """One entry of ``dump_model()["tree_info"]``: its nodes (by split index) and its leaves
    with their paths; raises for what FastTreeShap does not replicate."""
    where = f"tree {info.get('tree_index', '?')}"
    if info.get("num_cat", 0):
        raise UnsupportedModelError(
            f"{where} has categorical splits, which FastTreeShap does not replicate; "
            f"{_USE_PRED_CONTRIB}"
        )
    nodes: dict[int, tuple[int, float, int]] = {}
    leaves: list[tuple[float, float, list[tuple[int, int, float]]]] = []

    def visit(node: dict[str, Any], path: list[tuple[int, int, float]]) -> None:
        if "split_index" not in node:
            if "leaf_coeff" in node:
                raise UnsupportedModelError(
                    f"{where} is a linear tree, which TreeSHAP does not explain; "
                    "retrain without linear_tree"
                )
            leaves.append((float(node["leaf_value"]), float(node.get("leaf_count", 0)), path))
            return
        if node["decision_type"] != "<=":
            raise UnsupportedModelError(
                f"{where} has a {node['decision_type']!r} split (categorical); {_USE_PRED_CONTRIB}"
            )
        j = int(node["split_index"])
        nodes[j] = (int(node["split_feature"]), _threshold(node), _node_flags(node))
        count = float(node["internal_count"])
        for went_left, child in ((1, node["left_child"]), (0, node["right_child"])):
            share = float(child.get("internal_count", child.get("leaf_count", 0))) / count
            visit(child, [*path, (j, went_left, share)])

    visit(info["tree_structure"], [])
    return [nodes[j] for j in range(len(nodes))], leaves


def _expected_value(leaves) -> float:
    """LightGBM's ``Tree::ExpectedValue``: leaf values weighted by their share of rows."""
    if len(leaves) == 1:
        return leaves[0][0]
    total = sum(count for _, count, _ in leaves)
    return sum(count / total * value for value, count, _ in leaves)


def _parse_forest(dump: dict[str, Any]) -> _Forest:
    """Flatten a single-output ``booster.dump_model()`` for the kernels; raise
    :class:`UnsupportedModelError` for what FastTreeShap does not replicate."""
    if dump.get("num_tree_per_iteration", 1) != 1 or dump.get("num_class", 1) != 1:
        raise UnsupportedModelError(
            f"the model has {dump.get('num_class')} classes; FastTreeShap explains "
            f"single-output models (binary, regression) only; {_USE_PRED_CONTRIB}"
        )
    if dump.get("average_output", False):
        raise UnsupportedModelError(
            f"the model averages its trees (boosting='rf'); {_USE_PRED_CONTRIB}"
        )
    columns: dict[str, list] = {
        name: []
        for name in (
            "n_nodes n_features n_leaves node_feature node_threshold node_flags node_position "
            "tree_features leaf_value n_steps step_node step_left step_share"
        ).split()
    }
    base_value = constant = 0.0
    for info in dump["tree_info"]:
        nodes, leaves = _parse_tree(info)
        base_value += _expected_value(leaves)
        if not nodes:
            constant += leaves[0][0]
            continue
        features = sorted({feature for feature, _, _ in nodes})
        position = {feature: i for i, feature in enumerate(features)}
        columns["n_nodes"].append(len(nodes))
        columns["n_features"].append(len(features))
        columns["n_leaves"].append(len(leaves))
        columns["tree_features"] += features
        for feature, threshold, flags in nodes:
            columns["node_feature"].append(feature)
            columns["node_threshold"].append(threshold)
            columns["node_flags"].append(flags)
            columns["node_position"].append(position[feature])
        for value, _, path in leaves:
            columns["leaf_value"].append(value)
            columns["n_steps"].append(len(path))
            for node, went_left, share in path:
                columns["step_node"].append(node)
                columns["step_left"].append(went_left)
                columns["step_share"].append(share)
    arrays = {
        name: np.array(values, dtype=np.float64 if name in _FLOATS else np.int64)
        for name, values in columns.items()
    }
    return _Forest(
        **arrays,
        node_start=_starts(arrays["n_nodes"]),
        feature_start=_starts(arrays["n_features"]),
        leaf_start=_starts(arrays["n_leaves"]),
        step_start=_starts(arrays["n_steps"]),
        base_value=base_value,
        constant=constant,
    )


_FLOATS = {"node_threshold", "leaf_value", "step_share"}


def _starts(sizes: np.ndarray) -> np.ndarray:
    return (np.cumsum(sizes) - sizes).astype(np.int64)


def _shapley_weights(n: int) -> np.ndarray:
    """``w[m, s]``: the Shapley weight ``s! (m - s - 1)! / m!`` of a coalition of ``s`` among
    ``m`` players."""
    w = np.zeros((n + 1, n + 1))
    for m in range(1, n + 1):
        for s in range(m):
            w[m, s] = math.factorial(s) * math.factorial(m - s - 1) / math.factorial(m)
    return w


def _fill_tables(
    n_nodes,
    node_start,
    node_position,
    n_features,
    leaf_start,
    n_leaves,
    leaf_value,
    step_start,
    n_steps,
    step_node,
    step_left,
    step_share,
    weights,
    table_start,
    table,
    value_start,
    value,
):
    """Every tree's exact path-dependent TreeSHAP values for every decision pattern.

    Pattern ``p`` (bit ``j`` set: the row goes left at node ``j``) of tree ``t`` gets the
    row ``table[table_start[t] + p * d : ... + d]`` (one value per distinct feature) and its
    output ``value[value_start[t] + p]``. The value function is path-dependent TreeSHAP's:
    ``v(S)`` follows the row at nodes splitting on a feature in ``S`` and averages the
    children by cover elsewhere. ``v`` is a sum over leaves of products over each leaf's
    distinct path features ``i`` (``o_i``: the row goes the leaf's way at all of ``i``'s
    nodes; ``z_i``: the product of the path's cover shares at them), so each leaf's Shapley
    values come from the ``2**m`` subsets of its own ``m`` features.
    """
    longest = max(n_steps.max(), 1)
    positions = np.empty(longest, np.int64)
    ones = np.empty(longest)
    zeros = np.empty(longest)
    for t in range(n_nodes.shape[0]):
        d = n_features[t]
        for p in range(1 << n_nodes[t]):
            row = table_start[t] + p * d
            for leaf in range(leaf_start[t], leaf_start[t] + n_leaves[t]):
                m = 0
                for s in range(step_start[leaf], step_start[leaf] + n_steps[leaf]):
                    node = step_node[s]
                    q = node_position[node_start[t] + node]
                    at = -1
                    for u in range(m):
                        if positions[u] == q:
                            at = u
                    if at < 0:
                        at = m
                        positions[m] = q
                        ones[m] = 1.0
                        zeros[m] = 1.0
                        m += 1
                    if ((p >> node) & 1) != step_left[s]:
                        ones[at] = 0.0
                    zeros[at] *= step_share[s]
                reached = leaf_value[leaf]
                for u in range(m):
                    reached *= ones[u]
                value[value_start[t] + p] += reached
                for subset in range(1 << m):
                    g = leaf_value[leaf]
                    size = 0
                    for u in range(m):
                        if (subset >> u) & 1:
                            g *= ones[u]
                            size += 1
                        else:
                            g *= zeros[u]
                    if g == 0.0:
                        continue
                    for u in range(m):
                        if (subset >> u) & 1:
                            table[row + positions[u]] += weights[m, size - 1] * g
                        else:
                            table[row + positions[u]] -= weights[m, size] * g


@dataclass(frozen=True)
class _Tables:
    """Each tree's pattern table and pattern outputs, flattened (see :func:`_fill_tables`)."""

    table_start: np.ndarray
    table: np.ndarray
    value_start: np.ndarray
    value: np.ndarray


def _build_tables(forest: _Forest) -> _Tables:
    """Compute every tree's explanation table (compiled; the first call compiles)."""
    patterns = np.left_shift(1, forest.n_nodes)
    sizes = patterns * forest.n_features
    tables = _Tables(
        table_start=_starts(sizes),
        table=np.zeros(int(sizes.sum())),
        value_start=_starts(patterns),
        value=np.zeros(int(patterns.sum())),
    )
    if len(forest.n_nodes) == 0:
        return tables
    fill, _ = _kernels()
    fill(
        forest.n_nodes,
        forest.node_start,
        forest.node_position,
        forest.n_features,
        forest.leaf_start,
        forest.n_leaves,
        forest.leaf_value,
        forest.step_start,
        forest.n_steps,
        forest.step_node,
        forest.step_left,
        forest.step_share,
        _shapley_weights(int(forest.n_steps.max())),
        tables.table_start,
        tables.table,
        tables.value_start,
        tables.value,
    )
    return tables


def _explain_rows(
    X,
    start,
    stop,
    block,
    node_start,
    n_nodes,
    node_feature,
    node_threshold,
    node_flags,
    feature_start,
    n_features,
    tree_features,
    table_start,
    table,
    value_start,
    value,
    contributions,
    raw,
):
    """Explain rows ``start:stop`` of ``X``, ``block`` rows at a time.

    Each block is copied feature-major, so a tree's decisions and table look-ups run down
    contiguous rows without branches (the compiler vectorises them). Writes the feature
    columns of ``contributions`` if it has rows, adds each row's tree outputs to ``raw`` if it
    has rows.
    """
    n_cols = X.shape[1]
    with_contributions = contributions.shape[0] > 0
    with_raw = raw.shape[0] > 0
    xs = np.empty((n_cols, block))
    phi = np.empty((n_cols, block))
    pattern = np.empty(block, np.int64)
    total = np.empty(block)
    for a in range(start, stop, block):
        m = min(block, stop - a)
        for r in range(m):
            for c in range(n_cols):
                x = X[a + r, c]
                # LightGBM reads |x| <= kZeroThreshold as 0.0
                xs[c, r] = 0.0 if abs(x) <= ZERO_THRESHOLD else x
        phi[:, :m] = 0.0
        total[:m] = 0.0
        for t in range(n_nodes.shape[0]):
            pattern[:m] = 0
            for j in range(n_nodes[t]):
                n = node_start[t] + j
                column = xs[node_feature[n]]
                threshold = node_threshold[n]
                nan_left = node_flags[n] & 1
                zero_is_missing = (node_flags[n] >> 1) & 1
                default_left = (node_flags[n] >> 2) & 1
                for r in range(m):
                    x = column[r]
                    is_nan = np.int64(x != x)
                    missing_zero = zero_is_missing & np.int64(x == 0.0)
                    left = (
                        (np.int64(x <= threshold) & (1 - missing_zero))
                        | (missing_zero & default_left)
                        | (is_nan & nan_left)
                    )
                    pattern[r] |= left << j
            if with_contributions:
                d = n_features[t]
                at = table_start[t]
                for i in range(d):
                    out = phi[tree_features[feature_start[t] + i]]
                    for r in range(m):
                        out[r] += table[at + pattern[r] * d + i]
            if with_raw:
                for r in range(m):
                    total[r] += value[value_start[t] + pattern[r]]
        if with_contributions:
            for r in range(m):
                for c in range(n_cols):
                    contributions[a + r, c] = phi[c, r]
        if with_raw:
            for r in range(m):
                raw[a + r] += total[r]


@functools.cache
def _kernels():
    """:func:`_fill_tables` and :func:`_explain_rows` compiled by numba, built on first use so
    that importing this module compiles (and imports) nothing; cached on disk where numba
    finds a writable directory."""
    import numba

    try:
        jit = numba.njit(cache=True, nogil=True)
        return jit(_fill_tables), jit(_explain_rows)
    except RuntimeError:  # no writable cache directory: compile in memory only
        jit = numba.njit(nogil=True)
        return jit(_fill_tables), jit(_explain_rows)


def _threads(n_threads: int | None) -> int:
    if n_threads is not None:
        return max(1, n_threads)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


@dataclass(frozen=True)
class FastTreeShap:
    """Exact path-dependent TreeSHAP for a LightGBM model, equal to ``pred_contrib``.

    Build it with :meth:`from_booster`. ``method`` is ``"table"`` when every tree has at most
    ``max_table_nodes`` internal nodes (Lantern's models) and ``"pred_contrib"`` otherwise,
    in which case LightGBM computes the values.
    """

    booster: Any
    n_features: int
    n_trees: int
    method: Literal["table", "pred_contrib"]
    num_iteration: int | None
    _forest: _Forest = field(repr=False)
    _tables: _Tables | None = field(repr=False)

    @classmethod
    def from_booster(
        cls, booster, *, max_table_nodes: int = MAX_TABLE_NODES, num_iteration: int | None = None
    ) -> FastTreeShap:
        """Precompute the explanation tables of ``booster`` (a ``lightgbm.Booster``).

        Parameters
        ----------
        booster
            A fitted single-output LightGBM booster (binary, regression, ...).
        max_table_nodes
            Largest tree (internal nodes, at most ``TABLE_NODES_LIMIT``) explained by table;
            a model with a larger tree is explained by ``booster.predict(X,
            pred_contrib=True)``.
        num_iteration
            Trees to use, as in ``booster.predict``; ``None`` means the best iteration if
            early stopping set one, else all (LightGBM's default).

        Raises
        ------
        UnsupportedModelError
            For multiclass models, random-forest mode, categorical splits or linear trees.
        ValueError
            If ``max_table_nodes`` is out of range.
        """
        if not 0 <= max_table_nodes <= TABLE_NODES_LIMIT:
            raise ValueError(
                f"max_table_nodes={max_table_nodes} is more than {TABLE_NODES_LIMIT} (or "
                f"negative): a table has 2**max_table_nodes rows per tree; choose 0 to "
                f"{TABLE_NODES_LIMIT} (larger trees are explained by pred_contrib)"
            )
        dump = booster.dump_model(num_iteration=num_iteration)
        forest = _parse_forest(dump)
        shape = (booster, int(dump["max_feature_idx"]) + 1, len(dump["tree_info"]))
        if forest.largest > max_table_nodes:
            return cls(*shape, "pred_contrib", num_iteration, forest, None)
        return cls(*shape, "table", num_iteration, forest, _build_tables(forest))

    @property
    def base_value(self) -> float:
        """The model's expected raw score over its training rows (``pred_contrib``'s last
        column)."""
        return self._forest.base_value

    @property
    def largest_tree(self) -> int:
        """Internal nodes of the model's largest tree (0 if no tree splits)."""
        return self._forest.largest

    def _matrix(self, X) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"X has shape {X.shape}; the model reads {self.n_features} feature columns: "
                f"pass a 2-D array of shape (rows, {self.n_features}) with the columns in the "
                "booster's feature order (models.scoring.as_matrix builds one)"
            )
        return X

    def _run(self, X: np.ndarray, contributions: np.ndarray, raw: np.ndarray, n_threads):
        f, t = self._forest, self._tables
        _, explain = _kernels()
        args = (
            BLOCK_ROWS,
            f.node_start,
            f.n_nodes,
            f.node_feature,
            f.node_threshold,
            f.node_flags,
            f.feature_start,
            f.n_features,
            f.tree_features,
            t.table_start,
            t.table,
            t.value_start,
            t.value,
            contributions,
            raw,
        )
        if len(X) <= BLOCK_ROWS:  # one block (e.g. one child's prompt): no thread pool
            explain(X, 0, len(X), *args)
            return
        blocks = -(-len(X) // BLOCK_ROWS)
        bounds = np.linspace(0, len(X), max(1, min(_threads(n_threads), blocks)) + 1).astype(int)
        if len(bounds) <= 2:
            explain(X, 0, len(X), *args)
            return
        with ThreadPoolExecutor(len(bounds) - 1) as pool:
            done = [pool.submit(explain, X, a, b, *args) for a, b in pairwise(bounds)]
            for future in done:
                future.result()

    def contributions(self, X, *, n_threads: int | None = None) -> np.ndarray:
        """TreeSHAP contributions to the raw margin, laid out as LightGBM's ``pred_contrib``.

        Parameters
        ----------
        X : (n_rows, n_features) array
            Float features in the booster's order, NaN for missing.
        n_threads
            Threads to use; ``None`` means one per available core.

        Returns
        -------
        (n_rows, n_features + 1) float64 array
            One column per feature; the last column is the base value. Each row sums to the
            row's raw score.
        """
        X = self._matrix(X)
        if self.method == "pred_contrib":
            return self.booster.predict(X, pred_contrib=True, num_iteration=self.num_iteration)
        out = np.zeros((len(X), self.n_features + 1))
        self._run(X, out, np.zeros(0), n_threads)
        out[:, -1] = self.base_value
        return out

    def raw_score(self, X, *, n_threads: int | None = None) -> np.ndarray:
        """The raw margin (log-odds for a binary model), as ``predict(X, raw_score=True)``.

        Parameters
        ----------
        X : (n_rows, n_features) array
            Float features in the booster's order, NaN for missing.
        n_threads
            Threads to use; ``None`` means one per available core.

        Returns
        -------
        (n_rows,) float64 array
        """
        X = self._matrix(X)
        if self.method == "pred_contrib":
            return self.booster.predict(X, raw_score=True, num_iteration=self.num_iteration)
        out = np.full(len(X), self._forest.constant)
        self._run(X, np.zeros((0, 0)), out, n_threads)
        return out
