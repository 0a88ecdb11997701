"""Fixtures for the explanation tests: a small synthetic partnership and two real models.

Names start with ``explain_`` so they cannot clash with other folders' fixtures.

- ``explain_partnership`` / ``explain_table``: the shared small partnership (2,500 children,
  seed 11, from ``tests/conftest.py``) and its quarterly feature table. Do not change them
  in place: copy first.
- ``explain_registry``: the default feature registry.
- ``explain_models``: one real LightGBM model per outcome, few shallow trees, trained with
  the pipeline's own ``fit_model`` on the honest temporal split (about a second in all).
- ``explain_latest``: the rows of the latest snapshot, which prompts are served from.

OpenMP threads sleep rather than spin while they wait (``OMP_WAIT_POLICY=PASSIVE``, set before
LightGBM loads): spinning threads on a shared two-core machine can stall a fit for a minute.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pandas as pd
import pytest

from features.build import label_column
from features.outcomes import Outcomes, load_outcomes
from features.registry import Registry, default_registry
from features.synth import Partnership
from models.scoring import ScoringModel
from training.config import load_training_settings
from training.pipeline import fit_model
from training.split import temporal_split

OUTCOMES = ("exclusion_neet", "serious_violence")


@pytest.fixture(scope="session")
def explain_partnership(small_partnership) -> Partnership:
    """The shared small synthetic partnership (biases off)."""
    return small_partnership


@pytest.fixture(scope="session")
def explain_table(small_feature_table: pd.DataFrame) -> pd.DataFrame:
    """The partnership's feature table at the default (quarterly) snapshot dates."""
    return small_feature_table


@pytest.fixture(scope="session")
def explain_registry() -> Registry:
    """The default feature registry."""
    return default_registry()


@pytest.fixture(scope="session")
def explain_outcomes() -> Outcomes:
    """The package's outcome definitions."""
    return load_outcomes()


@pytest.fixture(scope="session")
def explain_models(
    explain_table: pd.DataFrame, explain_registry: Registry
) -> dict[str, ScoringModel]:
    """A real, calibrated model per outcome: shallow trees, a few dozen of them."""
    settings = load_training_settings()
    settings = settings.model_copy(
        update={
            "lightgbm": settings.lightgbm.model_copy(
                update={
                    "n_estimators": 120,
                    "learning_rate": 0.1,
                    "early_stopping_rounds": 20,
                    "min_child_samples": 50,
                }
            )
        }
    )
    features = settings.features.select(explain_registry)
    models = {}
    for outcome in OUTCOMES:
        split = temporal_split(
            explain_table,
            label_column(outcome),
            test_child_share=settings.test_child_share,
            seed=settings.seed,
        )
        models[outcome] = fit_model(explain_table, split, features, outcome, settings)
    return models


@pytest.fixture(scope="session")
def explain_latest(explain_table: pd.DataFrame) -> pd.DataFrame:
    """The latest snapshot's rows, with a fresh index."""
    latest = explain_table["snapshot_date"].max()
    return explain_table[explain_table["snapshot_date"] == latest].reset_index(drop=True)
