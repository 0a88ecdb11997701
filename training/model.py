"""Fitting Lantern's model: the LightGBM booster with early stopping, and its Platt calibration.

The fitted object is :class:`models.scoring.ScoringModel`. The names below it are imported here
too, because models registered before it moved were pickled as ``training.model.LanternPyfunc``
and MLflow looks them up by that path when it loads them.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
from sklearn.linear_model import LogisticRegression

from models.scoring import LanternPyfunc, ScoringModel, as_matrix
from training.config import LightGBMSettings

__all__ = ["LanternPyfunc", "ScoringModel", "as_matrix", "fit_booster", "fit_platt"]


def fit_booster(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    settings: LightGBMSettings,
    *,
    features: list[str],
    seed: int,
) -> lgb.Booster:
    """Fit LightGBM with early stopping on the validation period's log-loss."""
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
    }
    train = lgb.Dataset(X_train, y_train, feature_name=features, free_raw_data=False)
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
