"""Helpers shared by the access and serving tests (imported by name, as ``conftest`` is not).

- :class:`PostgresServer`: a throwaway PostgreSQL server from Debian's binaries, in a
  temporary folder, reached through a unix socket there (run as ``postgres`` when the tests
  run as root, since PostgreSQL refuses to run as root).
- :func:`call`: one HTTP request to an ASGI app through ``httpx.ASGITransport``.
- :func:`write_audit_rows`: a worker for the multi-process writer test.

And the database fixtures, a plugin of the root ``conftest.py``:

- ``pg_server``: one throwaway PostgreSQL server per session (skips, saying why, where
  Debian's ``postgresql`` binaries are missing); ``pg_url``: a fresh database on it per test.
- ``sqlite_url``: a fresh SQLite file per test.
- ``store_url`` / ``store``: parametrised over both backends, so a test taking ``store`` runs
  on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import anyio
import httpx
import pytest

from access.config import StoreSettings
from access.records import AuditEntry
from access.store import Store

PG_USER = "lantern_test"


def postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb and pg_ctl, if any."""
    found = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    found = [p for p in found if (p / "pg_ctl").exists()]
    return found[-1] if found else None


def free_port() -> int:
    """A TCP port nothing listens on just now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """A PostgreSQL server in a temporary folder, listening on a unix socket there only.

    Parameters
    ----------
    bin_dir : Path
        Folder of ``initdb`` and ``pg_ctl``.
    """

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        # Not under pytest's tmp_path: its parents are private to root, and the server may run
        # as the postgres user.
        self.root = Path(tempfile.mkdtemp(prefix="lantern-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root
        self.as_user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *args: str) -> None:
        command = [str(a) for a in args]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n"
                f"{done.stderr}\n{tail}"
            )

    def start(self) -> PostgresServer:
        """initdb, then start the server and wait until it accepts connections."""
        if self.as_user:
            entry = pwd.getpwnam(self.as_user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run(
            self.bin_dir / "initdb",
            "-D",
            self.data,
            "-U",
            PG_USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses='' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            self.bin_dir / "pg_ctl",
            "-D",
            self.data,
            "-l",
            self.root / "server.log",
            "-o",
            options,
            "-w",
            "start",
        )
        return self

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(self.bin_dir / "pg_ctl", "-D", self.data, "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg://{PG_USER}@/{database}?host={self.socket_dir}&port={self.port}"

    def admin(self):
        """A psycopg connection to the ``postgres`` database as the superuser (autocommit)."""
        import psycopg

        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=PG_USER,
            dbname="postgres",
            autocommit=True,
        )

    def create_database(self) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def call(app, method: str, path: str, **kwargs) -> httpx.Response:
    """One request to an ASGI app through ``httpx.ASGITransport`` (in a fresh event loop)."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lantern.test") as c:
            return await c.request(method, path, **kwargs)

    return anyio.run(go)


def call_many(app, requests: list[tuple[str, str, dict]]) -> list[httpx.Response]:
    """Several requests to an ASGI app, concurrently, in one event loop."""

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        out: list = [None] * len(requests)
        async with httpx.AsyncClient(transport=transport, base_url="http://lantern.test") as c:

            async def one(i: int, method: str, path: str, kwargs: dict) -> None:
                out[i] = await c.request(method, path, **kwargs)

            async with anyio.create_task_group() as tg:
                for i, (method, path, kwargs) in enumerate(requests):
                    tg.start_soon(partial(one, i, method, path, kwargs))
        return out

    return anyio.run(go)


def write_audit_rows(url: str, worker: int, rows: int) -> int:
    """Append ``rows`` audit rows from a new store (run in a separate process)."""
    store = Store(StoreSettings(url=url))
    try:
        for i in range(rows):
            store.append_audit(
                AuditEntry(
                    endpoint="/prompt",
                    method="POST",
                    outcome="allowed",
                    status=200,
                    request_id=f"w{worker}-{i}",
                    key_name=f"worker-{worker}",
                )
            )
    finally:
        store.close()
    return rows


# --------------------------------------------------------------------------- fixtures


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
