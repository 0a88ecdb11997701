"""Fixtures shared by the training tests.

- ``settings``: a real, migrated MLflow sqlite store (``empty_store``, from
  ``tests/conftest.py``), copied fresh into each test's tmp_path; MLflow's global URIs and the
  environment variables it exports are reset afterwards.
- ``small_partnership`` (from ``tests/conftest.py``) / ``feature_table``: the shared small
  synthetic partnership and its quarterly feature table. Tests must not change them in
  place: copy before editing.
- ``fast_settings``: the package's training settings with 20 bootstrap replicates.

OpenMP threads sleep rather than spin while they wait (``OMP_WAIT_POLICY=PASSIVE``, set before
LightGBM loads its OpenMP runtime, and inherited by the ``lantern`` subprocesses): on a shared
two-core machine LightGBM's two spinning threads otherwise make a fit that takes 0.3 s take
anything up to a minute, at random.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from training_fixtures import BOOTSTRAP, isolated_store

from models.tracking import TrackingSettings
from training.config import TrainingSettings, load_training_settings


@pytest.fixture
def settings(empty_store: Path, tmp_path: Path) -> Iterator[TrackingSettings]:
    """A fresh sqlite store in tmp_path; MLflow's global URIs are reset afterwards."""
    with isolated_store(empty_store, tmp_path) as store:
        yield store


@pytest.fixture(scope="session")
def feature_table(small_feature_table: pd.DataFrame) -> pd.DataFrame:
    """The shared partnership's feature table at the default (quarterly) snapshot dates."""
    return small_feature_table


@pytest.fixture(scope="session")
def fast_settings() -> TrainingSettings:
    """The package's training settings, with few bootstrap replicates for speed."""
    # registered even where worse than a baseline: 2,500 children cannot show it is better
    return (
        load_training_settings()
        .model_copy(update={"bootstrap": BOOTSTRAP})
        .registering_when_worse()
    )
