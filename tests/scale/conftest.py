"""Fixtures for the scale-out tests: one small partnership and its single-machine features.

The Dask cluster itself is module-scoped, in the test module: starting worker processes
takes seconds, so its tests share one. OpenMP threads sleep rather than spin while they wait
(``OMP_WAIT_POLICY=PASSIVE``, set before LightGBM loads, and inherited by the workers and
the ``lantern`` subprocesses).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from pathlib import Path

import pandas as pd
import pytest

from features.pointintime import Records, index_records
from features.synth import Partnership, write_partnership


@pytest.fixture(scope="session")
def partnership(small_partnership) -> Partnership:
    """The shared small synthetic partnership (biases off), with its ground truth."""
    return small_partnership


@pytest.fixture(scope="session")
def records(partnership: Partnership) -> Records:
    """The partnership's tables, indexed."""
    return index_records(partnership.tables)


@pytest.fixture(scope="session")
def partnership_folder(partnership: Partnership, tmp_path_factory) -> Path:
    """The partnership written as extracts and ground truth."""
    return write_partnership(partnership, tmp_path_factory.mktemp("scale") / "partnership")


@pytest.fixture(scope="session")
def feature_table(small_feature_table) -> pd.DataFrame:
    """The single-machine feature table at the default (quarterly) snapshot dates."""
    return small_feature_table
