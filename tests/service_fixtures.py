"""A real Lantern service for the tests: a small trained partnership and ``bentoml serve``.

:func:`build_home` makes, in one folder, what ``make quickstart`` makes: a synthetic
partnership, its feature table, an MLflow store with both models trained and promoted
(forced: a partnership this small is too small for the fairness gate to check anything,
which the gate rightly refuses), and a store with one key per role.
:class:`serving.local.LiveService` starts ``bentoml serve serving.service:Lantern`` on a free
port against it and waits until it is ready.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from serving.local import MODELS, REPO, ROLES, Home, LiveService, free_port
from training.demo import train_and_promote

__all__ = [
    "CHILDREN",
    "MODELS",
    "REPO",
    "ROLES",
    "SEED",
    "Home",
    "LiveService",
    "a_child",
    "build_home",
    "free_port",
    "train_and_promote",
]

CHILDREN = 2_500
SEED = 11


def build_home(folder: Path, table=None) -> Home:
    """A small trained, promoted partnership with one key per role (see the module).

    ``table`` is the partnership's feature table (the session's shared one); by default the
    partnership of :data:`CHILDREN` children and seed :data:`SEED` is generated here.
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
    (folder / "mlruns").mkdir(exist_ok=True)
    try:
        train_and_promote(
            table,
            tracking,
            seed=SEED,
            reason="test service on a partnership too small for the fairness gate",
        )
    finally:
        import mlflow

        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
        for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            os.environ.pop(var, None)
    database_url = f"sqlite:///{folder / 'lantern.db'}"
    store = Store(StoreSettings(url=database_url))
    keys = {role: store.create_key(f"test-{role}", role).token for role in ROLES}
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
    )


def a_child(home: Home, seed: int = 0) -> str:
    """A child id from the served snapshot (deterministic per seed)."""
    return home.child_ids[np.random.default_rng(seed).integers(len(home.child_ids))]


# --------------------------------------------------------------------------- copies, promotions


def copy_home(home: Home, folder: Path) -> Home:
    """A copy of ``home`` in ``folder`` (made here) that shares nothing with it.

    MLflow's store records absolute artifact locations; every one under the old folder is
    rewritten to the new, so runs, versions and promotions in the copy read and write only
    the copy. The keys are the same (the store is copied with its key hashes).
    """
    import shutil
    import sqlite3

    shutil.copytree(home.folder, folder, ignore=shutil.ignore_patterns("service-*"))
    old, new = str(home.folder), str(folder)
    db = sqlite3.connect(folder / "mlruns" / "mlflow.db")
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for column in db.execute(f'PRAGMA table_info("{table}")').fetchall():
                if column[2].upper() in ("TEXT", "") or "CHAR" in column[2].upper():
                    db.execute(
                        f'UPDATE "{table}" SET "{column[1]}" = replace("{column[1]}", ?, ?) '
                        f'WHERE instr("{column[1]}", ?) > 0',
                        (old, new, old),
                    )
        db.commit()
    finally:
        db.close()

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
