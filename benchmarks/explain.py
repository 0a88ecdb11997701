"""Explanation speed: FastTreeShap beside LightGBM's ``pred_contrib``, on the served model and on
a 31-leaf model of the same rows.

Both explain the same model on the same rows in one process, one after the other. The fast
path's time includes building its tables from the booster (as a service does on each load);
its one-off numba compile is reported on its own row. shap's ``TreeExplainer`` is not a second
reference: for a LightGBM booster it calls the same ``pred_contrib``, so its row says so and
carries no target.
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
    import shap

    def row(what, seconds, reference=None, reference_seconds=None, diff=None, check=None, unit="s"):
        found = {
            "unit": unit,
            "stage": stage,
            "what": what,
            "seconds": seconds,
            "reference": reference,
            "reference_seconds": reference_seconds,
            "ratio": None if reference_seconds is None else reference_seconds / seconds,
            "max_abs_diff": diff,
        }
        return found | ({"check": check} if check else {})

    rows = [
        row(
            "FastTreeShap first use: from_booster and one row (numba import, then compile or "
            "load from numba's disk cache)",
            first_build + first_call,
        )
    ]
    for label, explained in (("served model", booster), ("31-leaf model", _deeper(booster, X))):
        seconds, ours = _timed(lambda b=explained: FastTreeShap.from_booster(b).contributions(X))
        lgb_seconds, theirs = _timed(lambda b=explained: b.predict(X, pred_contrib=True))
        shap_seconds, _ = _timed(lambda b=explained: shap.TreeExplainer(b).shap_values(X))
        trees = explained.num_trees()
        size = f"{label}, {n:,} rows x {trees} trees, tables built included"
        diff = float(np.abs(ours - theirs).max()) if n else 0.0
        rows += [
            row(
                f"FastTreeShap.from_booster + contributions, {size}",
                seconds,
                "booster.predict(pred_contrib=True)",
                lgb_seconds,
                diff,
                check={"op": ">=", "bound": 10.0, "on": "ratio", "timing": True},
            ),
            row(
                f"FastTreeShap equals pred_contrib, {label} (largest difference)",
                diff,
                check={"op": "<=", "bound": 1e-12, "timing": False},
                unit="log-odds",
            ),
            row(
                f"shap.TreeExplainer(booster).shap_values, {label}: delegates to LightGBM's "
                "pred_contrib, not a second reference",
                shap_seconds,
            ),
        ]
    return rows


def _deeper(booster, X: np.ndarray):
    """A 31-leaf, 200-tree booster fitted to the served model's own top decile of ``X``: a
    model of the size LightGBM builds by default, for the explainer's cost at that size."""
    import lightgbm as lgb

    scores = booster.predict(X)
    label = (scores >= np.quantile(scores, 0.9)).astype(int)
    params = {"objective": "binary", "num_leaves": 31, "verbose": -1, "seed": 7}
    return lgb.train(params, lgb.Dataset(X, label=label), num_boost_round=200)


def describe(rows: list[dict]) -> str:
    """One line per row, for a benchmark report's detail column."""
    parts = []
    for r in rows:
        text = f"{r['what']}: {r['seconds']:.3f} s"
        if r["reference"] is not None and r["reference_seconds"] is not None:
            text += (
                f" vs {r['reference']} {r['reference_seconds']:.2f} s ({r['ratio']:.0f}x faster,"
                f" largest difference {r['max_abs_diff']:.1e})"
            )
        parts.append(text)
    return "; ".join(parts)
