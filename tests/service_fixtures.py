"""A real Lantern service for the tests: a small trained partnership and ``bentoml serve``.

A pytest plugin (``tests/conftest.py`` loads it), so every folder may use its session
fixtures: ``service_home`` (the partnership, trained and promoted, with one key per role),
``live_service`` (the real service over it) and ``fleet`` (a copy of the partnership with a
second ``serious_violence`` version and two services over it, for tests that change the
registry). Their users share one xdist group
(``tests/conftest.py``), so one worker builds them.

:func:`build_home` makes, in one folder, what ``make quickstart`` makes: a synthetic
partnership, its feature table, an MLflow store with both models trained and promoted
(forced: a partnership this small is too small for the fairness gate to check anything,
which the gate rightly refuses), and a store with one key per role. The session's
``service_home`` takes its trained models from ``trained_store`` (:func:`train_store`,
built once per session for both workers; the governance tests copy it too) and promotes
them in its own copy.
:class:`serving.local.LiveService` starts ``bentoml serve serving.service:Lantern`` on a free
port against it and waits until it is ready.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from serving.local import MODELS, REPO, ROLES, Home, LiveService, free_port
from training.demo import train_and_promote

__all__ = [
    "CHILDREN",
    "MODEL",
    "Fleet",
    "MODELS",
    "REPO",
    "ROLES",
    "SEED",
    "SWEEPER",
    "TEST_LIMITS",
    "Home",
    "LiveService",
    "a_child",
    "build_home",
    "free_port",
    "train_and_promote",
]

CHILDREN = 2_500
SEED = 11

SWEEPER = "sweeper"
"""A practitioner key with low limits (:data:`TEST_LIMITS`), for the bulk-access tests; the
other keys' limits are out of the suite's way."""

_OUT_OF_THE_WAY = {"per_minute": 1_000_000, "per_day": 10_000_000, "children_per_hour": 1_000_000}
TEST_LIMITS = {
    "roles": {role: _OUT_OF_THE_WAY for role in ROLES},
    "keys": {f"test-{SWEEPER}": {"per_minute": 40, "per_day": 100_000, "children_per_hour": 24}},
    "unauthenticated_rows_per_minute": 100_000,
}
"""The test service's request limits."""


def build_home(
    folder: Path, table=None, template: Path | None = None, trained: Path | None = None
) -> Home:
    """A small trained, promoted partnership with one key per role (see the module).

    ``table`` is the partnership's feature table (the session's shared one); by default the
    partnership of :data:`CHILDREN` children and seed :data:`SEED` is generated here.
    ``template`` is an empty migrated MLflow store to start from (else MLflow migrates one).
    ``trained`` is a :func:`train_store` folder of ``table``'s models: it is copied and its
    challengers promoted, instead of training here.
    """
    from access.config import StoreSettings
    from access.store import Store
    from features.build import build_features, default_snapshot_dates, write_table
    from features.pointintime import index_records
    from features.synth import SynthConfig, generate
    from models.tracking import TrackingSettings

    folder.mkdir(parents=True, exist_ok=True)
    if table is None:
        records = index_records(generate(SynthConfig(children=CHILDREN, seed=SEED)).tables)
        table = build_features(records, default_snapshot_dates(records))
    features = write_table(table, folder / "features.parquet")
    tracking = TrackingSettings(
        uri=f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}",
        artifact_root=folder / "mlruns" / "artifacts",
    )
    reason = "test service on a partnership too small for the fairness gate"
    if trained is not None:
        copy_store(trained, folder)
    else:
        (folder / "mlruns").mkdir(exist_ok=True)
        if template is not None:
            shutil.copy(template, folder / "mlruns" / "mlflow.db")
    try:
        if trained is not None:
            promote_challengers(tracking, reason=reason)
        else:
            train_and_promote(table, tracking, seed=SEED, reason=reason)
    finally:
        import mlflow

        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
        for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            os.environ.pop(var, None)
    database_url = f"sqlite:///{folder / 'lantern.db'}"
    store = Store(StoreSettings(url=database_url))
    keys = {role: store.create_key(f"test-{role}", role).token for role in ROLES}
    keys[SWEEPER] = store.create_key(f"test-{SWEEPER}", "practitioner").token
    store.close()
    latest = table["snapshot_date"].max()
    ids = table.loc[table["snapshot_date"] == latest, "child_id"].astype(str)
    return Home(
        folder=folder,
        features=features,
        tracking_uri=tracking.uri,
        database_url=database_url,
        keys=keys,
        child_ids=sorted(ids),
        snapshot_date=f"{latest:%Y-%m-%d}",
        limits=TEST_LIMITS,
    )


def a_child(home: Home, seed: int = 0) -> str:
    """A child id from the served snapshot (deterministic per seed)."""
    return home.child_ids[np.random.default_rng(seed).integers(len(home.child_ids))]


# --------------------------------------------------------------------------- copies, promotions


def rewrite_paths(db: Path, old: str, new: str) -> None:
    """Rewrite every ``old`` path in the MLflow sqlite store ``db`` to ``new``.

    MLflow's store records absolute artifact locations; after a copy, every one under the
    old folder must name the new, so that the copy reads and writes only its own files.
    """
    import sqlite3

    connection = sqlite3.connect(db)
    try:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        for table in [r[0] for r in rows]:
            for column in connection.execute(f'PRAGMA table_info("{table}")').fetchall():
                if column[2].upper() in ("TEXT", "") or "CHAR" in column[2].upper():
                    connection.execute(
                        f'UPDATE "{table}" SET "{column[1]}" = replace("{column[1]}", ?, ?) '
                        f'WHERE instr("{column[1]}", ?) > 0',
                        (old, new, old),
                    )
        connection.commit()
    finally:
        connection.close()


def forget_artifact_locations() -> None:
    """Empty MLflow's process-wide cache of each run's artifact location.

    MLflow keeps, per run id, where the run's artifacts are; a copied store keeps its run
    ids, so without this a process that has read the original would write the copy's
    artifacts into the original's folder."""
    from mlflow.tracking._tracking_service import utils

    utils._artifact_repos_cache.clear()


def train_store(folder: Path, table, ground_truth, template: Path) -> None:
    """Both models trained on ``table`` by the pipeline (``train_and_register``, as
    ``lantern train DATA`` does, with the ground truth beside them; seed :data:`SEED`, 20
    bootstrap replicates, registered even where worse than a baseline) and registered as
    challenger, not promoted, in ``folder/mlruns`` (the store ``mlflow.db``, the artifacts
    under ``artifacts``). Trained from an empty working directory, so no
    ``partnership.yaml`` is read. :func:`copy_store` makes a working copy."""
    from features.outcomes import load_outcomes
    from models.tracking import TrackingSettings
    from training.config import load_training_settings
    from training.pipeline import train_and_register

    (folder / "mlruns").mkdir()
    shutil.copy(template, folder / "mlruns" / "mlflow.db")
    (folder / "work").mkdir()
    tracking = TrackingSettings(
        uri=f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}",
        artifact_root=folder / "mlruns" / "artifacts",
    )
    settings = load_training_settings().model_copy(update={"bootstrap": 20, "seed": SEED})
    settings = settings.registering_when_worse()  # 2,500 children: see training.demo
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder / "work")
        try:
            train_and_register(
                table, list(load_outcomes().root), settings, tracking, ground_truth=ground_truth
            )
        finally:
            _forget_tracking()


def copy_store(trained: Path, folder: Path):
    """A copy of the :func:`train_store` folder ``trained`` in ``folder`` (made here) that
    shares nothing with it; its ``TrackingSettings``."""
    from models.tracking import TrackingSettings

    shutil.copytree(trained / "mlruns", folder / "mlruns")
    rewrite_paths(folder / "mlruns" / "mlflow.db", str(trained), str(folder))
    forget_artifact_locations()
    return TrackingSettings(
        uri=f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}",
        artifact_root=folder / "mlruns" / "artifacts",
    )


def promote_challengers(tracking, *, reason: str) -> None:
    """Force every model's challenger to champion through the promotion API, with ``reason``
    (as ``training.demo.train_and_promote`` does after training)."""
    from training.promotion import PromotionPolicy, promote

    client = tracking.client()
    for name in MODELS:
        challenger = client.get_model_version_by_alias(name, "challenger")
        promote(
            name,
            challenger_metrics=dict(client.get_run(challenger.run_id).data.metrics),
            champion_metrics=None,
            fairness_result=None,
            policy=PromotionPolicy(),
            settings=tracking,
            force=True,
            reason=reason,
            version=str(challenger.version),
        )


def copy_home(home: Home, folder: Path) -> Home:
    """A copy of ``home`` in ``folder`` (made here) that shares nothing with it.

    MLflow's store records absolute artifact locations; every one under the old folder is
    rewritten to the new, so runs, versions and promotions in the copy read and write only
    the copy. The keys are the same (the store is copied with its key hashes).
    """
    shutil.copytree(home.folder, folder, ignore=shutil.ignore_patterns("service-*"))
    old, new = str(home.folder), str(folder)
    rewrite_paths(folder / "mlruns" / "mlflow.db", old, new)
    forget_artifact_locations()

    def moved(text: str) -> str:
        return text.replace(old, new)

    return Home(
        folder=folder,
        features=Path(moved(str(home.features))),
        tracking_uri=moved(home.tracking_uri),
        database_url=moved(home.database_url),
        keys=dict(home.keys),
        child_ids=list(home.child_ids),
        snapshot_date=home.snapshot_date,
        limits=home.limits,
    )


def _tracking(home: Home):
    from models.tracking import TrackingSettings

    db = Path(home.tracking_uri.removeprefix("sqlite:///"))
    return TrackingSettings(uri=home.tracking_uri, artifact_root=db.parent / "artifacts")


def _forget_tracking() -> None:
    """Undo what ``TrackingSettings.apply`` did to this process (MLflow's globals, env)."""
    import mlflow

    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        os.environ.pop(var, None)


def champions(home: Home) -> dict[str, str]:
    """Each model's ``champion`` version in ``home``'s registry, read without touching
    MLflow's process-wide settings."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=home.tracking_uri, registry_uri=home.tracking_uri)
    return {
        name: str(client.get_model_version_by_alias(name, "champion").version) for name in MODELS
    }


def train_challenger(home: Home, model: str, *, seed: int) -> str:
    """Train ``model`` again on ``home``'s feature table with another seed and register it as
    ``challenger`` (not promoted); return its version."""
    import pandas as pd

    from training.config import load_training_settings
    from training.pipeline import train_and_register

    table = pd.read_parquet(home.features)
    settings = load_training_settings().model_copy(update={"bootstrap": 20, "seed": seed})
    settings = settings.registering_when_worse()  # 2,500 children: see training.demo
    try:
        (result,) = train_and_register(table, [model], settings, _tracking(home))
    finally:
        _forget_tracking()
    return str(result.version)


def promote_version(home: Home, model: str, version: str, *, reason: str) -> None:
    """Move ``model``'s ``champion`` to ``version`` through the promotion API (forced, with
    ``reason``: test partnerships are too small for the fairness gate)."""
    from training.promotion import PromotionPolicy, promote

    tracking = _tracking(home)
    try:
        client = tracking.client()
        target = client.get_model_version(model, version)
        champion = client.get_model_version_by_alias(model, "champion")
        promote(
            model,
            challenger_metrics=dict(client.get_run(target.run_id).data.metrics),
            champion_metrics=dict(client.get_run(champion.run_id).data.metrics),
            fairness_result=None,
            policy=PromotionPolicy(),
            settings=tracking,
            force=True,
            reason=reason,
            version=str(version),
        )
    finally:
        _forget_tracking()


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def trained_store(
    tmp_path_factory: pytest.TempPathFactory, small_partnership, small_feature_table, empty_store
) -> Path:
    """The shared small partnership's two models, trained and registered as challenger
    (:func:`train_store`), once per session for every worker (``shared_once``). Do not
    change it: :func:`copy_store` first."""
    from shared_once import built_once

    return built_once(
        tmp_path_factory,
        "trained_store",
        lambda folder: train_store(
            folder, small_feature_table, small_partnership.ground_truth, empty_store
        ),
    )


@pytest.fixture(scope="session")
def service_home(tmp_path_factory: pytest.TempPathFactory, small_feature_table, trained_store):
    """The shared small partnership, trained and promoted, with one key per role (Home):
    a copy of ``trained_store`` whose challengers are forced to champion."""
    return build_home(
        tmp_path_factory.mktemp("service"), small_feature_table, trained=trained_store
    )


@pytest.fixture(scope="session")
def live_service(service_home):
    """The real service (``bentoml serve``) on a free port over ``service_home``, with one
    worker process (two workers, and what keeps them together, are the ``fleet``'s)."""
    service = LiveService(service_home, workers=1).start()
    try:
        yield service
    finally:
        service.stop()


MODEL = "serious_violence"
"""The model whose champion the ``fleet`` tests change."""


@dataclass
class Fleet:
    """A copy of the session's partnership, its two ``MODEL`` versions and two services over
    it: ``polled`` reloads on ``POST /reload`` only, ``watching`` watches the registry every
    second."""

    home: Home
    versions: tuple[str, str]
    polled: LiveService
    watching: LiveService

    def other_version(self) -> str:
        """The ``MODEL`` version that is not the champion now."""
        (other,) = set(self.versions) - {champions(self.home)[MODEL]}
        return other


@pytest.fixture(scope="session")
def fleet(service_home, tmp_path_factory):
    """See :class:`Fleet`. Tests may promote either version, and must leave the champion
    one that ``lantern promote`` chose."""
    from concurrent.futures import ThreadPoolExecutor

    home = copy_home(service_home, tmp_path_factory.mktemp("reload") / "home")
    original = champions(home)[MODEL]
    polled, watching = LiveService(home), LiveService(home, watch_seconds=1)
    try:
        with ThreadPoolExecutor(2) as pool:
            started = [pool.submit(s.start) for s in (polled, watching)]
            challenger = train_challenger(home, MODEL, seed=SEED + 1)
            for future in started:
                future.result()
        yield Fleet(home, (original, challenger), polled, watching)
    finally:
        polled.stop()
        watching.stop()
