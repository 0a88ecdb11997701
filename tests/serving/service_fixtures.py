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

from serving.local import MODELS, REPO, ROLES, Home, LiveService, free_port, train_and_promote

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


def build_home(folder: Path) -> Home:
    """A small trained, promoted partnership with one key per role (see the module)."""
    from features.build import build_features, default_snapshot_dates, write_table
    from features.pointintime import index_records
    from features.synth import SynthConfig, generate
    from serving.config import StoreSettings
    from serving.store import Store
    from training.tracking import TrackingSettings

    folder.mkdir(parents=True, exist_ok=True)
    partnership = generate(SynthConfig(children=CHILDREN, seed=SEED))
    records = index_records(partnership.tables)
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
