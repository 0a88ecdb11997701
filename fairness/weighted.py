"""The weighted engine behind every number of the audit.

A bootstrap replicate is the data with each row repeated as often as it was drawn, so it is a
column of integer weights over the original rows; the point estimate is the same computation
with every weight 1. Every figure of the audit is a ratio of weighted sums over the rows of a
cell (a group, or a group's score bin), except the AUC, a weighted Mann-Whitney statistic
within a group.

Sums over every cell of every grouping are one sparse-times-dense product per chunk of
replicates (:class:`CellSums`); AUCs are cumulative sums over the rows of each group sorted by
score (:class:`RankedCells`). Nothing loops over replicates or groups in Python, so 1,000
replicates of 40,000 rows take seconds.

The engine knows nothing about fairness: it sums and ranks. :mod:`fairness.audit` says what the
sums mean.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from fairness.stats import cumsum0, ratio

CHUNK_CELLS = 4_000_000
"""Replicates are weighted in chunks of about this many (row, replicate) cells."""


# --------------------------------------------------------------------------- replicates


def replicate_chunks(
    n_rows: int, n_boot: int, *, seed: int, cluster: np.ndarray | None = None
) -> Iterator[np.ndarray]:
    """The bootstrap weights, a chunk of replicates at a time.

    Parameters
    ----------
    n_rows : int
        Number of rows.
    n_boot : int
        Number of replicates.
    seed : int
        Seed of ``np.random.default_rng``; the same seed and data give the same replicates.
    cluster : ndarray of int, optional
        Each row's cluster number (0 .. n_clusters - 1). Whole clusters are drawn with
        replacement, so rows of one cluster (one child's several snapshots) move together.

    Yields
    ------
    ndarray of float, shape (n_rows, b)
        How often each row appears in each of the next ``b`` replicates.
    """
    rng = np.random.default_rng(seed)
    units = n_rows if cluster is None else int(cluster.max()) + 1
    step = max(1, CHUNK_CELLS // max(n_rows, 1))
    for start in range(0, n_boot, step):
        b = min(step, n_boot - start)
        draws = rng.integers(0, units, size=(b, units))
        # counts[u, j]: how often unit u was drawn in replicate j, laid out rows x replicates
        flat = draws * b + np.arange(b)[:, None]
        counts = np.bincount(flat.ravel(), minlength=units * b).reshape(units, b)
        counts = counts.astype(float)
        yield counts if cluster is None else counts[cluster]


def unit_weights(n_rows: int) -> np.ndarray:
    """The point estimate's weights: every row once, as a single replicate."""
    return np.ones((n_rows, 1))


# --------------------------------------------------------------------------- cell sums


@dataclass(frozen=True)
class CellSums:
    """Weighted sums of several values over disjoint cells of rows, for many partitions.

    Build once with :meth:`of`; :meth:`__call__` turns weights into sums for every cell of
    every partition in one sparse product.

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix, shape (total cells x values, rows)
        Row ``offset[p] + cell * n_values + v`` holds value ``v`` of the rows in ``cell`` of
        partition ``p``.
    offsets : tuple of int
        The first matrix row of each partition.
    shapes : tuple of (int, int)
        ``(n_cells, n_values)`` of each partition.
    """

    matrix: sparse.csr_matrix
    offsets: tuple[int, ...]
    shapes: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, partitions: list[tuple[np.ndarray, int, np.ndarray]]) -> CellSums:
        """Stack partitions given as ``(cell of each row, n_cells, values: rows x n_values)``."""
        blocks, offsets, shapes, offset = [], [], [], 0
        for codes, n_cells, values in partitions:
            n_rows, n_values = values.shape
            rows = (codes[:, None] * n_values + np.arange(n_values)).ravel()
            cols = np.repeat(np.arange(n_rows), n_values)
            block = sparse.csr_matrix(
                (values.ravel(), (rows, cols)), shape=(n_cells * n_values, n_rows)
            )
            block.eliminate_zeros()
            blocks.append(block)
            offsets.append(offset)
            shapes.append((n_cells, n_values))
            offset += n_cells * n_values
        matrix = sparse.vstack(blocks, format="csr")
        return cls(matrix=matrix, offsets=tuple(offsets), shapes=tuple(shapes))

    def __call__(self, weights: np.ndarray) -> list[np.ndarray]:
        """Sums of each partition, shaped ``(n_cells, n_values, b)``, for weights (rows x b)."""
        out = np.asarray(self.matrix @ weights)
        return [
            out[start : start + cells * values].reshape(cells, values, -1)
            for start, (cells, values) in zip(self.offsets, self.shapes, strict=True)
        ]


# --------------------------------------------------------------------------- AUC


@dataclass(frozen=True)
class _OutcomeRanks:
    """Where one outcome's positives and negatives fall in the sorted rows."""

    negatives: np.ndarray  # original row of each negative, in sorted order
    positives: np.ndarray  # original row of each positive, in sorted order
    above: np.ndarray  # negatives sorted before each positive's run (scored higher)
    through: np.ndarray  # negatives sorted before the end of its run (higher or tied)
    pos_bounds: np.ndarray  # positives' index where each cell starts, and the end
    neg_bounds: np.ndarray  # negatives' index where each cell starts, and the end


@dataclass(frozen=True)
class RankedCells:
    """The rows of each cell by descending score, for the weighted Mann-Whitney AUC.

    A positive beats each negative of its cell scored strictly lower and ties half of those
    scored equal; AUC is wins / (positives x negatives), NaN where either is 0. With ``C``
    the running weight of negatives in sorted order, a positive ``i`` of weight ``w_i`` wins
    ``w_i * (C[cell end] - (C[above_i] + C[through_i]) / 2)``, so a cell's wins are a few
    gathers and cumulative sums over its rows, for every replicate at once.

    Attributes
    ----------
    outcomes : tuple of _OutcomeRanks
        One per outcome column (recorded, true, ...).
    n_cells : int
        Number of cells.
    """

    outcomes: tuple[_OutcomeRanks, ...]
    n_cells: int

    @classmethod
    def of(
        cls, codes: np.ndarray, n_cells: int, scores: np.ndarray, labels: np.ndarray
    ) -> RankedCells:
        """Sort once: ``codes`` is each row's cell (0 .. n_cells - 1), ``labels`` rows x outcomes."""
        order = np.lexsort((-scores, codes))
        c, s = codes[order], scores[order]
        new_run = np.r_[True, (c[1:] != c[:-1]) | (s[1:] != s[:-1])]
        run_id = np.cumsum(new_run) - 1
        run_start = np.flatnonzero(new_run)
        run_end = np.r_[run_start[1:], c.size]
        cell_start = np.searchsorted(c, np.arange(n_cells + 1))  # positions; last = n
        outcomes = []
        for k in range(labels.shape[1]):
            y = labels[order, k] == 1
            neg_at, pos_at = np.flatnonzero(~y), np.flatnonzero(y)
            outcomes.append(
                _OutcomeRanks(
                    negatives=order[neg_at],
                    positives=order[pos_at],
                    above=np.searchsorted(neg_at, run_start[run_id[pos_at]]),
                    through=np.searchsorted(neg_at, run_end[run_id[pos_at]]),
                    pos_bounds=np.searchsorted(pos_at, cell_start),
                    neg_bounds=np.searchsorted(neg_at, cell_start),
                )
            )
        return cls(outcomes=tuple(outcomes), n_cells=n_cells)

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        """AUC of each cell, outcome and replicate: shape ``(n_cells, n_outcomes, b)``."""
        return np.stack([self._auc(o, weights) for o in self.outcomes], axis=1)

    @staticmethod
    def _auc(o: _OutcomeRanks, weights: np.ndarray) -> np.ndarray:
        """Per-cell AUC of one outcome (cells x b)."""
        neg = cumsum0(weights[o.negatives])
        pos_w = weights[o.positives]
        if np.array_equal(o.above, o.through):  # no positive tied with a negative
            lost = pos_w * neg[o.above]
        else:
            lost = pos_w * (0.5 * (neg[o.above] + neg[o.through]))
        pos = cumsum0(pos_w)
        lost = cumsum0(lost)
        ps, pe = o.pos_bounds[:-1], o.pos_bounds[1:]
        ns, ne = o.neg_bounds[:-1], o.neg_bounds[1:]
        positives = pos[pe] - pos[ps]
        wins = positives * neg[ne] - (lost[pe] - lost[ps])
        return ratio(wins, positives * (neg[ne] - neg[ns]))


# --------------------------------------------------------------------------- summaries
