"""Fixtures for the governance tests. Names start with ``governance_`` so that they cannot
clash with other folders' fixtures.

- ``governance_table``: the shared small partnership (2,500 children, seed 11, from
  ``tests/conftest.py``) and its quarterly feature table. Do not change it in place: copy
  first.
- ``governance_store``: a real MLflow sqlite store in which both models were trained with
  the pipeline (a copy of the session's ``trained_store``) and audited (``audit_model``),
  but not promoted; built once per session. MLflow's global URIs and the environment variables
  it exports are put back afterwards.
- ``governance_card`` and friends: the pure builders' real inputs, made by the same functions
  the pipeline uses.

OpenMP threads sleep rather than spin while they wait (``OMP_WAIT_POLICY=PASSIVE``, set before
LightGBM loads its OpenMP runtime): spinning threads on a shared two-core machine can stall a
fit for a minute.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from governance_fixtures import restored_mlflow_uris

from features.registry import Registry, default_registry
from models.tracking import TrackingSettings
from training.config import TrainingSettings, load_training_settings
from training.pipeline import TrainResult, train_outcome

BOOTSTRAP = 20
AUDIT_BOOTSTRAP = 20
OUTCOMES = ("exclusion_neet", "serious_violence")


@pytest.fixture(scope="session")
def governance_registry() -> Registry:
    """The default feature registry."""
    return default_registry()


@pytest.fixture(scope="session")
def governance_settings() -> TrainingSettings:
    """The package's training settings with few bootstrap replicates."""
    # registered even where worse than a baseline: 2,500 children cannot show it is better
    return (
        load_training_settings()
        .model_copy(update={"bootstrap": BOOTSTRAP})
        .registering_when_worse()
    )


@pytest.fixture(scope="session")
def governance_partnership_data(small_partnership):
    """The shared small synthetic partnership, with its ground truth."""
    return small_partnership


@pytest.fixture(scope="session")
def governance_table(small_feature_table) -> pd.DataFrame:
    """The partnership's feature table at quarterly snapshot dates."""
    return small_feature_table


@pytest.fixture(scope="session")
def governance_results(
    governance_table, governance_partnership_data, governance_settings
) -> dict[str, TrainResult]:
    """Both models, trained and evaluated (not logged)."""
    return {
        name: train_outcome(
            governance_table,
            name,
            governance_settings,
            ground_truth=governance_partnership_data.ground_truth,
        )
        for name in OUTCOMES
    }


@dataclass
class Store:
    """A store holding both models, trained and audited, and the folder it lives in."""

    settings: TrackingSettings
    folder: Path


@pytest.fixture(scope="session")
def governance_store(
    tmp_path_factory, trained_store, governance_partnership_data
) -> Iterator[Store]:
    """Both models logged, registered as challenger and audited in a real sqlite store.

    A copy of the session's ``trained_store`` (``tests/service_fixtures.py``: both models
    trained with the pipeline, ``train_and_register``, with the ground truth, from an empty
    working directory, so no ``partnership.yaml`` was read), to which each challenger's
    datasheet, label-bias check (where the outcome has one) and fairness audit are logged
    here, as ``lantern train DATA`` and ``lantern audit`` log them.
    """
    from service_fixtures import copy_store

    from governance.datasheet import log_datasheet
    from governance.partnership import PartnershipSettings
    from training.fairness_audit import audit_model
    from training.label_bias import check_label_bias, log_label_bias

    folder = tmp_path_factory.mktemp("governance_store")
    work = folder / "work"
    work.mkdir()
    with restored_mlflow_uris(), pytest.MonkeyPatch.context() as mp:
        settings = copy_store(trained_store, folder)
        mp.chdir(work)
        settings.apply()
        client = settings.client()
        for name in OUTCOMES:
            run_id = client.get_model_version_by_alias(name, "challenger").run_id
            log_datasheet(run_id, settings, PartnershipSettings())
            checks = check_label_bias(governance_partnership_data.tables, name, n_boot=200)
            if checks:  # as `lantern train DATA` does for an outcome with cross-checks
                log_label_bias(
                    run_id, checks, settings, outcome=name, source="the test partnership"
                )
            audit_model(name, settings, n_boot=AUDIT_BOOTSTRAP)
        yield Store(settings, work)
