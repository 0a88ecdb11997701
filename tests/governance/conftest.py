"""Fixtures for the governance tests. Names start with ``governance_`` so that they cannot
clash with other folders' fixtures.

- ``governance_table``: the shared small partnership (2,500 children, seed 11, from
  ``tests/conftest.py``) and its quarterly feature table. Do not change it in place: copy
  first.
- ``governance_store``: a real MLflow sqlite store in which both models were trained with
  the pipeline (``train_outcome`` + ``log_and_register``) and audited (``audit_model``), but
  not promoted; built once per session. MLflow's global URIs and the environment variables
  it exports are put back afterwards.
- ``governance_card`` and friends: the pure builders' real inputs, made by the same functions
  the pipeline uses.

OpenMP threads sleep rather than spin while they wait (``OMP_WAIT_POLICY=PASSIVE``, set before
LightGBM loads its OpenMP runtime): spinning threads on a shared two-core machine can stall a
fit for a minute.
"""

from __future__ import annotations

import os
import shutil

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from governance_fixtures import restored_mlflow_uris

from features.outcomes import load_outcomes
from features.registry import Registry, default_registry
from models.tracking import TrackingSettings
from training.config import TrainingSettings, load_training_settings
from training.pipeline import TrainResult, log_and_register, train_outcome

BOOTSTRAP = 20
AUDIT_BOOTSTRAP = 20
OUTCOMES = ("exclusion_neet", "serious_violence")


@contextmanager
def isolated_store(folder: Path, template: Path) -> Iterator[TrackingSettings]:
    """A new sqlite store in ``folder``, copied from the migrated ``template``; on exit
    MLflow's global URIs and the environment variables it exports are put back as they were."""
    with restored_mlflow_uris():
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(template, folder / "mlflow.db")
        uri = f"sqlite:///{folder}/mlflow.db"
        yield TrackingSettings(uri=uri, artifact_root=folder / "art")


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
    tmp_path_factory,
    empty_store,
    governance_table,
    governance_results,
    governance_settings,
    governance_partnership_data,
) -> Iterator[Store]:
    """Both models logged, registered as challenger and audited in a real sqlite store.

    Trained from an empty working directory, so no ``partnership.yaml`` is read.
    """
    from governance.datasheet import log_datasheet
    from governance.partnership import PartnershipSettings
    from training.fairness_audit import audit_model
    from training.label_bias import check_label_bias, log_label_bias

    folder = tmp_path_factory.mktemp("governance_store")
    work = folder / "work"
    work.mkdir()
    with (
        isolated_store(folder / "mlruns", empty_store) as settings,
        pytest.MonkeyPatch.context() as mp,
    ):
        mp.chdir(work)
        settings.apply()
        for name, result in governance_results.items():
            log_and_register(
                governance_table,
                result,
                governance_settings,
                settings,
                outcome_definition=load_outcomes()[name],
            )
            log_datasheet(result.run_id, settings, PartnershipSettings())
            checks = check_label_bias(governance_partnership_data.tables, name, n_boot=200)
            if checks:  # as `lantern train DATA` does for an outcome with cross-checks
                log_label_bias(
                    result.run_id, checks, settings, outcome=name, source="the test partnership"
                )
            audit_model(name, settings, n_boot=AUDIT_BOOTSTRAP)
        yield Store(settings, work)
