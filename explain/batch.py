"""Batch scores and TreeSHAP explanations of a Dask feature table, partition by partition,
and the one explainer every caller uses (:func:`explainer_for`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from explain.treeshap import FastTreeShap, UnsupportedModelError
from features.build import KEY_COLUMNS
from models.scoring import ScoringModel, as_matrix

if TYPE_CHECKING:
    import dask.dataframe as dd
    import lightgbm as lgb


def _lightgbm_contributions(booster: lgb.Booster, X: np.ndarray) -> np.ndarray:
    return booster.predict(X, pred_contrib=True)


def explainer_for(
    booster: lgb.Booster, *, n_threads: int | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """Exact TreeSHAP contributions for ``booster``: the fast path where it applies, else
    LightGBM's own ``pred_contrib`` (the same numbers, slower).

    Parameters
    ----------
    booster : lightgbm.Booster
        The model to explain.
    n_threads : int, optional
        Threads for the fast path (default: one per available core); a Dask worker uses 1.

    Returns
    -------
    callable
        ``X -> contributions``, laid out as LightGBM's ``pred_contrib`` (the last column is
        the base value); picklable, so it can be shipped to workers.
    """
    try:
        fast = FastTreeShap.from_booster(booster)
    except UnsupportedModelError:
        return partial(_lightgbm_contributions, booster)
    return partial(fast.contributions, n_threads=n_threads)


def _keys(part: pd.DataFrame) -> dict[str, np.ndarray]:
    return {k: part[k].to_numpy() for k in KEY_COLUMNS if k in part}


def _score_part(part: pd.DataFrame, model: ScoringModel) -> pd.DataFrame:
    probability = model.predict_proba(as_matrix(part, model.features))
    return pd.DataFrame({**_keys(part), "probability": probability}, index=part.index)


def _explain_part(part: pd.DataFrame, model: ScoringModel, explainer) -> pd.DataFrame:
    values = explainer(as_matrix(part, model.features))
    columns = [*model.features, "base_value"]
    frame = pd.DataFrame(values, columns=columns, index=part.index)
    return pd.concat([pd.DataFrame(_keys(part), index=part.index), frame], axis=1)


def _meta(ddf: dd.DataFrame, columns: list[str]) -> pd.DataFrame:
    keys = {k: ddf._meta[k] for k in KEY_COLUMNS if k in ddf.columns}
    return pd.DataFrame({**keys, **{c: pd.Series(dtype="float64") for c in columns}})


def score_partitions(ddf: dd.DataFrame, model: ScoringModel) -> dd.DataFrame:
    """Batch scores: the calibrated probability of every row, partition by partition.

    Returns
    -------
    dask.dataframe.DataFrame
        The key columns ``ddf`` has (``child_id``, ``snapshot_date``) and ``probability``,
        equal to ``model.predict_proba`` on the same rows.
    """
    from dask import delayed

    return ddf.map_partitions(
        _score_part, delayed(model, pure=True), meta=_meta(ddf, ["probability"])
    )


def explain_partitions(ddf: dd.DataFrame, model: ScoringModel) -> dd.DataFrame:
    """TreeSHAP contributions to the raw margin of every row, partition by partition.

    Uses :class:`explain.treeshap.FastTreeShap` (exact, equal to LightGBM's
    ``pred_contrib``), prepared once and shipped to the workers.

    Returns
    -------
    dask.dataframe.DataFrame
        The key columns ``ddf`` has, one column per model feature and ``base_value``; each
        row sums to the row's raw margin.
    """
    from dask import delayed

    explainer = explainer_for(model.booster, n_threads=1)
    return ddf.map_partitions(
        _explain_part,
        delayed(model, pure=True),
        delayed(explainer, pure=True),
        meta=_meta(ddf, [*model.features, "base_value"]),
    )
