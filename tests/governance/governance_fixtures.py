"""MLflow state helpers shared by the governance tests (imported by name, as ``conftest`` is
not)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import mlflow

MLFLOW_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@contextmanager
def restored_mlflow_uris() -> Iterator[None]:
    """Put MLflow's global URIs and the variables it exports back as they were on exit
    (the same helper as tests/training's ``isolated_store`` and tests/notebooks'
    ``restored_mlflow_uris``: each test folder imports only its own helpers)."""
    saved = {var: os.environ.pop(var, None) for var in MLFLOW_URI_VARIABLES}
    try:
        yield
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
        for var, value in saved.items():
            os.environ.pop(var, None)
            if value is not None:
                os.environ[var] = value
