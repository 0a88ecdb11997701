"""Fixtures for the fairness tests."""

from __future__ import annotations

import os

import pytest
from fairness_fixtures import compas_filtered, random_frame

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")


@pytest.fixture(scope="session")
def compas():
    """COMPAS after ProPublica's filters."""
    return compas_filtered()


@pytest.fixture(scope="session")
def frame():
    """Random audit data (3,000 rows)."""
    return random_frame()
