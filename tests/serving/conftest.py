"""Fixtures shared by the serving tests.

- ``service_home`` / ``live_service``: a small trained, promoted partnership, and the real
  service (``bentoml serve`` in a subprocess) over it, once per session.

- ``pg_server``: one throwaway PostgreSQL server per session (skips, saying why, where
  Debian's ``postgresql`` binaries are missing); ``pg_url``: a fresh database on it per test.
- ``sqlite_url``: a fresh SQLite file per test.
- ``store_url`` / ``store``: parametrised over both backends, so a test taking ``store`` runs
  on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from collections.abc import Iterator
from pathlib import Path

import pytest
from serving_fixtures import PostgresServer, postgres_bin

from serving.config import StoreSettings
from serving.store import Store


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session, in a temporary folder."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL server binaries not found (apt-get install postgresql): no "
            "/usr/lib/postgresql/*/bin/initdb"
        )
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("PostgreSQL refuses to run as root, and there is no postgres user")
    server = PostgresServer(bin_dir)
    try:
        server.start()
    except Exception:
        server.stop()
        raise
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """A fresh, empty PostgreSQL database."""
    return pg_server.create_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file (not yet created)."""
    return f"sqlite:///{tmp_path / 'lantern.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str:
    """A fresh database on each backend."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A store on a fresh database (each backend); closed afterwards."""
    store = Store(StoreSettings(url=store_url))
    try:
        yield store
    finally:
        store.close()


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
