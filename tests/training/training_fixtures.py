"""Helpers shared by the training tests (imported by name, as ``conftest`` is not)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow

from models.tracking import TrackingSettings

BOOTSTRAP = 20
"""Bootstrap replicates in the tests' training settings (the package's default is 200)."""

MLFLOW_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@contextmanager
def isolated_store(empty_store: Path, folder: Path) -> Iterator[TrackingSettings]:
    """A fresh copy of the empty store in ``folder``; on exit MLflow's global URIs and the
    environment variables it exports are put back as they were."""
    saved = {var: os.environ.pop(var, None) for var in MLFLOW_URI_VARIABLES}
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(empty_store, folder / "mlflow.db")
    try:
        yield TrackingSettings(uri=f"sqlite:///{folder}/mlflow.db", artifact_root=folder / "art")
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
        for var, value in saved.items():
            os.environ.pop(var, None)
            if value is not None:
                os.environ[var] = value
