"""Fixtures for the notebook tests.

- ``notebook_kernels``: a kernelspec that runs this virtualenv's Python (see
  ``notebook_runs``).
- ``retrain_run``: ``quarterly_retrain.ipynb`` executed once per session against a new
  MLflow sqlite store in a temporary folder, on a small synthetic partnership (2,500 children,
  seed 11, so the next quarter is seed 12), for ``MODELS``. The partnership is too small for
  the fairness audit to check any group, so the first promotions are forced with
  ``FIRST_CHAMPION_REASON``, as the notebook allows.
- ``board_run``: ``ethics_board_review.ipynb`` executed on that store for
  ``BOARD_MODEL``'s champion, with the store's state before and after.

Tests must not change the store: the promotion tests only make calls that are refused before
anything is recorded. MLflow's global URIs are put back after every test.
"""

from __future__ import annotations

import os
import shutil

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from notebook_runs import (
    BOARD_MODEL,
    BOOTSTRAP,
    CHILDREN,
    FIRST_CHAMPION_REASON,
    MODELS,
    SEED,
    execute,
    restored_mlflow_uris,
    store_state,
    write_kernelspec,
)

from models.tracking import TrackingSettings


@dataclass
class RetrainRun:
    """The executed retrain notebook, the store it wrote and its folders."""

    notebook: nbformat.NotebookNode
    settings: TrackingSettings
    folder: Path
    parameters: dict[str, Any]


@dataclass
class BoardRun:
    """The executed board notebook and the store's state around it."""

    notebook: nbformat.NotebookNode
    before: dict[str, Any]
    after: dict[str, Any]


@pytest.fixture(autouse=True)
def _mlflow_uris() -> Iterator[None]:
    with restored_mlflow_uris():
        yield


@pytest.fixture(scope="session")
def notebook_kernels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the test kernelspec."""
    return write_kernelspec(tmp_path_factory.mktemp("kernels"))


@pytest.fixture(scope="session")
def retrain_run(
    tmp_path_factory: pytest.TempPathFactory, notebook_kernels: Path, empty_store: Path
) -> RetrainRun:
    """The quarterly retrain notebook, run on a new store (first champions, then a quarter).

    The store starts as a copy of the migrated empty one (``empty_store``): no models, no
    runs, and no migration for the kernel to wait for."""
    folder = tmp_path_factory.mktemp("quarterly_retrain")
    (folder / "mlruns").mkdir()
    shutil.copy(empty_store, folder / "mlruns" / "mlflow.db")
    uri = f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}"
    parameters = {
        "data_folder": str(folder / "data"),
        "tracking_uri": uri,
        "children": CHILDREN,
        "seed": SEED,
        "models": MODELS,
        "bootstrap": BOOTSTRAP,
        "first_champion_reason": FIRST_CHAMPION_REASON,
    }
    nb = execute(
        "quarterly_retrain.ipynb", parameters, kernels=notebook_kernels, work=folder / "work"
    )
    return RetrainRun(nb, TrackingSettings(uri=uri), folder, parameters)


@pytest.fixture(scope="session")
def board_run(retrain_run: RetrainRun, notebook_kernels: Path) -> BoardRun:
    """The board notebook, run on the retrain notebook's store for the board model's champion."""
    with restored_mlflow_uris():
        before = store_state(retrain_run.settings, BOARD_MODEL)
    nb = execute(
        "ethics_board_review.ipynb",
        {
            "tracking_uri": retrain_run.settings.uri,
            "model_name": BOARD_MODEL,
            "version": "champion",
        },
        kernels=notebook_kernels,
        work=retrain_run.folder / "board",
    )
    with restored_mlflow_uris():
        after = store_state(retrain_run.settings, BOARD_MODEL)
    return BoardRun(nb, before, after)
