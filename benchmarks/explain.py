"""Explanation speed: FastTreeShap beside LightGBM's ``pred_contrib`` and shap's TreeExplainer.

All three explain the same model on the same rows in one process, one after the other; the
fast path is timed warm (after its one-off numba compile, which is reported on its own row).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from explain.treeshap import FastTreeShap


def _timed(run: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def bench_explanations(model, X: np.ndarray, *, stage: str = "explain") -> list[dict]:
    """Time exact TreeSHAP three ways on ``model`` and ``X``; check they agree.

    Parameters
    ----------
    model
        A ``models.scoring.ScoringModel`` or a ``lightgbm.Booster``.
    X : (n_rows, n_features) array
        The rows to explain, in the model's feature order.
    stage
        The ``stage`` value of every row.

    Returns
    -------
    list of dict
        One row per measurement: ``stage``, ``what``, ``seconds``, ``reference``,
        ``reference_seconds``, ``ratio`` (reference seconds / seconds; None where there is no
        reference) and ``max_abs_diff`` (largest absolute difference between FastTreeShap's
        contributions and the reference's, where there is one).
    """
    booster = getattr(model, "booster", model)
    X = np.ascontiguousarray(X, dtype=np.float64)
    n = len(X)

    first_build, fast = _timed(lambda: FastTreeShap.from_booster(booster))
    first_call, _ = _timed(lambda: fast.contributions(X[:1]))
    build, fast = _timed(lambda: FastTreeShap.from_booster(booster))
    warm, ours = _timed(lambda: fast.contributions(X))
    lgb_seconds, theirs = _timed(lambda: booster.predict(X, pred_contrib=True))
    import shap

    shap_seconds, shap_values = _timed(lambda: shap.TreeExplainer(booster).shap_values(X))
    if isinstance(shap_values, list):  # older shap: one array per class
        shap_values = shap_values[-1]
    shap_values = np.asarray(shap_values).reshape(n, -1)
    size = f"{n:,} rows x {fast.n_trees} trees"

    def row(what, seconds, reference=None, reference_seconds=None, diff=None) -> dict:
        return {
            "stage": stage,
            "what": what,
            "seconds": seconds,
            "reference": reference,
            "reference_seconds": reference_seconds,
            "ratio": None if reference_seconds is None else reference_seconds / seconds,
            "max_abs_diff": diff,
        }

    lgb_diff = float(np.abs(ours - theirs).max()) if n else 0.0
    shap_diff = float(np.abs(ours[:, :-1] - shap_values).max()) if n else 0.0
    return [
        row(
            "FastTreeShap first use: from_booster and one row (numba import, then compile or "
            "load from numba's disk cache)",
            first_build + first_call,
        ),
        row(f"FastTreeShap.from_booster, compiled ({fast.method}, {fast.n_trees} trees)", build),
        row(
            f"FastTreeShap.contributions, warm ({fast.method}), {size}",
            warm,
            "booster.predict(pred_contrib=True)",
            lgb_seconds,
            lgb_diff,
        ),
        row(
            f"FastTreeShap.contributions, warm ({fast.method}), {size}",
            warm,
            "shap.TreeExplainer(booster).shap_values",
            shap_seconds,
            shap_diff,
        ),
    ]


def describe(rows: list[dict]) -> str:
    """One line per row, for a benchmark report's detail column."""
    parts = []
    for r in rows:
        text = f"{r['what']}: {r['seconds']:.3f} s"
        if r["reference"] is not None:
            text += (
                f" vs {r['reference']} {r['reference_seconds']:.2f} s ({r['ratio']:.0f}x faster,"
                f" largest difference {r['max_abs_diff']:.1e})"
            )
        parts.append(text)
    return "; ".join(parts)
