"""Fixtures shared by the serving tests.

- ``service_home`` / ``live_service``: a small trained, promoted partnership, and the real
  service (``bentoml serve`` in a subprocess) over it, once per session.

The database fixtures (``pg_url``, ``sqlite_url``, ``store``) are ``tests/store_fixtures.py``'s.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest


@pytest.fixture(scope="session")
def service_home(tmp_path_factory: pytest.TempPathFactory, small_feature_table):
    """The shared small partnership, trained and promoted, with one key per role
    (service_fixtures.Home)."""
    from service_fixtures import build_home

    return build_home(tmp_path_factory.mktemp("service"), small_feature_table)


@pytest.fixture(scope="session")
def live_service(service_home):
    """The real service (``bentoml serve``) on a free port over ``service_home``."""
    from service_fixtures import LiveService

    service = LiveService(service_home).start()
    try:
        yield service
    finally:
        service.stop()
