"""Fitting Lantern's model: the LightGBM booster with early stopping, and its Platt calibration.

The fitted object is :class:`models.scoring.ScoringModel`. The names below it are imported here
too, because models registered before it moved were pickled as ``training.model.LanternPyfunc``
and MLflow looks them up by that path when it loads them.
"""

from __future__ import annotations

from collections.abc import Sequence

import lightgbm as lgb
import numpy as np
from sklearn.linear_model import LogisticRegression

from features.registry import Registry, default_registry
from models.scoring import LanternPyfunc, ScoringModel, as_matrix
from training.config import LightGBMSettings

__all__ = [
    "LanternPyfunc",
    "ScoringModel",
    "as_matrix",
    "fit_booster",
    "fit_platt",
    "monotone_constraints",
]


MIN_LEAF_SHARE = 20
"""A leaf needs at least 1/20 of the training rows (or the configured size, if smaller)."""


def adapted(settings: LightGBMSettings, n_train: int) -> LightGBMSettings:
    """The settings for a training set of ``n_train`` rows.

    The defaults were chosen on a partnership of 40,000 children, where a leaf of 300 rows is
    a small share; on a table of a few hundred rows a leaf that large cannot exist, and
    LightGBM silently fits a constant. Leaves are capped at 1/:data:`MIN_LEAF_SHARE` of the
    rows (at least 5). A booster that still has no split (:func:`has_splits`) is never
    registered (:mod:`training.choice`).
    """
    leaf = min(settings.min_child_samples, max(5, n_train // MIN_LEAF_SHARE))
    return settings.model_copy(update={"min_child_samples": leaf})


def monotone_constraints(features: Sequence[str], registry: Registry | None = None) -> list[int]:
    """Each feature's registry direction as a LightGBM monotone constraint, in ``features``
    order: 1 (a higher value may only raise the estimate), -1 (only lower it) or 0 (free, also
    for a column the registry does not hold, such as a bring-your-own table's)."""
    registry = default_registry() if registry is None else registry
    return [registry[name].monotone if name in registry else 0 for name in features]


def constraint_params(settings: LightGBMSettings, monotone: Sequence[int] | None) -> dict:
    """LightGBM's monotone-constraint parameters: none when ``settings.monotone`` is off or
    no feature is constrained."""
    if not settings.monotone or monotone is None or not any(monotone):
        return {}
    return {
        "monotone_constraints": list(monotone),
        "monotone_constraints_method": settings.monotone_method,
    }


def has_splits(booster: lgb.Booster) -> bool:
    """Whether any tree splits at all (a booster of single leaves scores everyone alike)."""
    return any(tree["num_leaves"] > 1 for tree in booster.dump_model()["tree_info"])


def fit_booster(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    settings: LightGBMSettings,
    *,
    features: list[str],
    seed: int,
    rounds: int | None = None,
    monotone: Sequence[int] | None = None,
) -> lgb.Booster:
    """Fit LightGBM with early stopping on the validation period's log-loss, with the
    settings :func:`adapted` to the number of training rows; ``rounds`` fits exactly that
    many trees instead, without looking at the validation rows (for cross-validation).
    ``monotone`` (one of 1, -1, 0 per feature, :func:`monotone_constraints`) keeps each
    feature to its direction when ``settings.monotone`` is on."""
    settings = adapted(settings, len(X_train))
    params = {
        "objective": "binary",
        "metric": "binary_logloss",
        "num_leaves": settings.num_leaves,
        "max_depth": settings.max_depth,
        "learning_rate": settings.learning_rate,
        "min_child_samples": settings.min_child_samples,
        "bagging_fraction": settings.subsample,
        "bagging_freq": 1,
        "feature_fraction": settings.colsample_bytree,
        "lambda_l2": settings.reg_lambda,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 2,
        "verbosity": -1,
        **constraint_params(settings, monotone),
    }
    train = lgb.Dataset(X_train, y_train, feature_name=features, free_raw_data=False)
    if rounds is not None:
        return lgb.train(params, train, num_boost_round=max(1, rounds))
    valid = lgb.Dataset(X_val, y_val, reference=train)
    return lgb.train(
        params,
        train,
        num_boost_round=settings.n_estimators,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(settings.early_stopping_rounds, verbose=False)],
    )


def fit_platt(margin: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt scaling: the slope and intercept of ``p = sigmoid(a * margin + b)``."""
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(margin.reshape(-1, 1), y)
    return float(fit.coef_[0, 0]), float(fit.intercept_[0])
