"""Train, score and explain on a Dask cluster: the single-machine steps, distributed.

- The temporal split is :func:`training.split.temporal_split` itself, on the same rows.
- The booster is fitted by ``lightgbm.dask`` with :func:`training.model.fit_booster`'s
  parameters. ``lightgbm.dask`` 4.7 has no early stopping (lightgbm issue 3712; callbacks
  hang the workers, issue 6351), so the number of trees is the one a single-machine early
  stop picks on a sample of the training rows (all of them when they fit in
  ``sample_rows``) against the validation period.
- Platt calibration is fitted on the validation period's margins, computed in the workers.
- The result is the same :class:`~models.scoring.ScoringModel`, so evaluation, MLflow
  logging and registration are unchanged (:func:`train_and_register_dask`).
- Batch scores and TreeSHAP contributions are ``map_partitions`` over a feature DataFrame.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.build import label_column
from features.outcomes import Outcome
from features.registry import Registry
from models.scoring import ScoringModel, as_matrix
from models.tracking import TrackingSettings
from training.config import LightGBMSettings, TrainingSettings
from training.model import constraint_params, fit_booster, fit_platt, monotone_constraints
from training.pipeline import TrainResult, train_and_register, train_outcome
from training.split import TemporalSplit, held_out, temporal_split

if TYPE_CHECKING:
    import dask.dataframe as dd
    from distributed import Client

SAMPLE_ROWS = 500_000
"""Training rows the single-machine early stop sees (all of them, up to this many)."""


def booster_params(
    settings: LightGBMSettings, seed: int, monotone: Sequence[int] | None = None
) -> dict:
    """:func:`training.model.fit_booster`'s LightGBM parameters under the scikit-learn names
    ``lightgbm.dask`` takes (it sets each worker's threads itself), with the same monotone
    constraints."""
    return {
        "objective": "binary",
        "num_leaves": settings.num_leaves,
        "max_depth": settings.max_depth,
        "learning_rate": settings.learning_rate,
        "min_child_samples": settings.min_child_samples,
        "subsample": settings.subsample,
        "subsample_freq": 1,
        "colsample_bytree": settings.colsample_bytree,
        "reg_lambda": settings.reg_lambda,
        "random_state": seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbosity": -1,
        **constraint_params(settings, monotone),
    }


def temporal_split_dask(
    ddf: dd.DataFrame, label: str, *, test_child_share: float = 0.3, seed: int = 7
) -> TemporalSplit:
    """:func:`training.split.temporal_split` of a Dask feature table.

    Only the keys and the label come to this process; the positions index the table's
    rows in partition order (``ddf.compute()``'s order).
    """
    keys = ddf[["child_id", "snapshot_date", label]].compute().reset_index(drop=True)
    return temporal_split(keys, label, test_child_share=test_child_share, seed=seed)


def _part_rows(
    part: pd.DataFrame,
    dates: tuple[pd.Timestamp, ...],
    share: float,
    seed: int,
    features: list[str],
    label: str,
) -> pd.DataFrame:
    when = part["snapshot_date"].to_numpy()
    keep = np.isin(when, np.array(dates, dtype=when.dtype))
    if len(part):
        keep &= ~held_out(part["child_id"], share, seed)
    rows = part.loc[keep, ["child_id", *features, label]]
    return rows.astype(dict.fromkeys(features, "float64"))


def split_rows(
    ddf: dd.DataFrame,
    split: TemporalSplit,
    features: list[str],
    label: str,
    settings: TrainingSettings,
) -> tuple[dd.DataFrame, dd.DataFrame]:
    """The training and validation rows of ``split`` (``child_id``, the features, the label),
    selected in each partition by snapshot date and held-out group, as
    :func:`training.split.temporal_split` chose them."""
    meta = ddf._meta[["child_id", *features, label]].astype(dict.fromkeys(features, "float64"))
    args = (settings.test_child_share, settings.seed, features, label)
    train = ddf.map_partitions(_part_rows, split.train_dates, *args, meta=meta)
    validation = ddf.map_partitions(_part_rows, (split.validation_date,), *args, meta=meta)
    return train, validation


def trees_by_early_stopping(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    features: list[str],
    label: str,
    settings: TrainingSettings,
) -> int:
    """The number of trees :func:`training.model.fit_booster`'s early stop picks on these
    rows (a single-machine fit)."""
    booster = fit_booster(
        as_matrix(train, features),
        train[label].to_numpy().astype(int),
        as_matrix(validation, features),
        validation[label].to_numpy().astype(int),
        settings.lightgbm,
        features=features,
        seed=settings.seed,
        monotone=monotone_constraints(features),
    )
    return int(booster.best_iteration or booster.current_iteration())


def fit_model_dask(
    ddf: dd.DataFrame,
    split: TemporalSplit,
    features: list[str],
    outcome: str,
    settings: TrainingSettings,
    client: Client,
    *,
    sample_rows: int = SAMPLE_ROWS,
) -> ScoringModel:
    """Fit the booster on the training snapshots with ``lightgbm.dask`` and calibrate it on
    the validation one.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
        The feature table (at least the rows ``split`` selects).
    split : TemporalSplit
        From :func:`temporal_split_dask`, or :func:`training.split.temporal_split` on the
        same rows.
    features, outcome, settings
        As for :func:`training.pipeline.fit_model`.
    client : distributed.Client
        The cluster to train on.
    sample_rows : int
        Training rows the single-machine early stop that picks the number of trees sees.

    Returns
    -------
    ScoringModel
        ``booster.best_iteration`` is the number of trees.
    """
    from lightgbm.dask import DaskLGBMClassifier

    label = label_column(outcome)
    train, validation = split_rows(ddf, split, features, label, settings)
    train, validation = client.persist([train, validation])
    share = min(1.0, sample_rows / max(len(split.train), 1))
    sample = train if share >= 1.0 else train.sample(frac=share, random_state=settings.seed)
    sample, val = client.compute([sample, validation], sync=True)
    n_trees = trees_by_early_stopping(sample, val, features, label, settings)
    del sample
    train = spread_rows(train, client)
    classifier = DaskLGBMClassifier(
        client=client,
        n_estimators=n_trees,
        **booster_params(settings.lightgbm, settings.seed, monotone_constraints(features)),
    )
    with warnings.catch_warnings():
        # lightgbm.dask sets each worker's threads itself and says so for n_jobs
        warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
        classifier.fit(train[features], train[label].astype("int64"))
    booster = classifier.booster_
    booster.best_iteration = n_trees
    margin = validation.map_partitions(
        _margin, booster, features, meta=pd.Series(dtype="float64")
    ).compute()
    slope, intercept = fit_platt(margin.to_numpy(), val[label].to_numpy().astype(int))
    return ScoringModel(booster, features, slope, intercept, outcome)


def _margin(part: pd.DataFrame, booster: lgb.Booster, features: list[str]) -> pd.Series:
    return pd.Series(booster.predict(as_matrix(part, features), raw_score=True), index=part.index)


def _piece(part: pd.DataFrame, k: int, n: int) -> pd.DataFrame:
    worker = pd.util.hash_pandas_object(part["child_id"], index=False).to_numpy() % n
    return part[worker == k]


def spread_rows(ddf: dd.DataFrame, client: Client) -> dd.DataFrame:
    """The rows of ``ddf`` as one partition on each worker, children dealt to the workers by
    a hash of their id (rows keep their order within a worker).

    Distributed LightGBM bins each feature from one worker's rows, so every worker needs a
    fair share of the children: a table partitioned by snapshot or by age would otherwise
    leave a worker binning, say, NEET features from children too young to have any. Each
    partition is cut where it lies; a worker receives only its own pieces.
    """
    import dask.dataframe as dd

    workers = sorted(client.scheduler_info()["workers"])
    n = len(workers)
    parts = client.compute(ddf.to_delayed())
    shares = [
        client.submit(
            pd.concat,
            [client.submit(_piece, part, k, n) for part in parts],
            workers=[w],
            allow_other_workers=False,
        )
        for k, w in enumerate(workers)
    ]
    return dd.from_delayed(shares, meta=ddf._meta, verify_meta=False)


def train_outcome_dask(
    table: pd.DataFrame,
    outcome: str,
    settings: TrainingSettings,
    client: Client,
    *,
    registry: Registry | None = None,
    ground_truth: pd.DataFrame | None = None,
    oracle_applies: bool = True,
    definition: Outcome | None = None,
    sample_rows: int = SAMPLE_ROWS,
) -> TrainResult:
    """:func:`training.pipeline.train_outcome` with the booster fitted on the cluster.

    The split and the evaluation are the single-machine ones, on ``table``; only the
    training and validation rows go to the workers.
    """
    return train_outcome(
        table,
        outcome,
        settings,
        registry=registry,
        ground_truth=ground_truth,
        oracle_applies=oracle_applies,
        definition=definition,
        fit=partial(_fit_on_cluster, client=client, sample_rows=sample_rows),
    )


def _fit_on_cluster(table, split, features, outcome, settings, *, client, sample_rows):
    import dask.dataframe as dd

    columns = ["child_id", "snapshot_date", *features, label_column(outcome)]
    rows = table.iloc[np.concatenate([split.train, split.validation])][columns]
    n_parts = len(client.scheduler_info()["workers"])
    ddf = dd.from_pandas(rows.reset_index(drop=True), npartitions=n_parts, sort=False)
    return fit_model_dask(ddf, split, features, outcome, settings, client, sample_rows=sample_rows)


def train_and_register_dask(
    table: pd.DataFrame,
    outcomes: list[str],
    settings: TrainingSettings,
    tracking: TrackingSettings,
    client: Client,
    *,
    ground_truth: pd.DataFrame | None = None,
    outcome_definitions=None,
    progress: Callable[[str], None] | None = None,
) -> list[TrainResult]:
    """:func:`training.pipeline.train_and_register`, each booster fitted on the cluster."""
    return train_and_register(
        table,
        outcomes,
        settings,
        tracking,
        ground_truth=ground_truth,
        outcome_definitions=outcome_definitions,
        progress=progress,
        train=partial(train_outcome_dask, client=client),
    )
