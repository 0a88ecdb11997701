"""How the store connects: SQLite tuned for several writer processes, or PostgreSQL.

SQLite runs in WAL mode with ``synchronous=NORMAL``; a write transaction takes the write lock
when it begins (``BEGIN IMMEDIATE``, asked for with the execution option ``lantern_write``)
and waits up to ``busy_timeout_ms`` for it, so several worker processes can write to one file
safely. JSON columns take :class:`EncodedJSON` text as it is.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from access.config import StoreSettings

__all__ = ["EncodedJSON", "make_engine"]


class EncodedJSON(str):
    """JSON text encoded already (the body a response carried): stored as it is."""


def _json_text(value: Any) -> str:
    """The database's JSON serialiser: encoded text as it is, anything else encoded now."""
    return str(value) if isinstance(value, EncodedJSON) else json.dumps(value)


def _use_wal(cursor, timeout: float) -> None:
    """Put the database in WAL mode (it stays so, in the file), retrying while it is busy.

    Changing the journal mode needs the file to itself, and SQLite can answer "database is
    locked" at once, without its busy handler, while another process is opening the same new
    file (seen with four workers creating one store), so the change is retried up to
    ``timeout`` seconds. A file already in WAL mode needs no change and takes no lock.
    """
    if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def make_engine(settings: StoreSettings) -> Engine:
    """An engine for ``settings.url``: a missing SQLite file is created readable by its owner
    only, in a folder made if missing; no statement's parameters appear in errors or logs."""
    url = make_url(settings.url)
    if url.get_backend_name() != "sqlite":
        return create_engine(
            url, pool_pre_ping=True, json_serializer=_json_text, hide_parameters=True
        )
    if url.database and url.database != ":memory:":
        path = Path(url.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only from the start: SQLite gives its -wal and -shm files the same mode. Only
        # a missing file is opened here: closing any descriptor of a file drops every POSIX
        # lock this process holds on it, SQLite's included.
        if not path.exists():
            try:
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            except FileExistsError:
                pass
    engine = create_engine(
        url,
        connect_args={"timeout": settings.busy_timeout_ms / 1000},
        json_serializer=_json_text,
        hide_parameters=True,  # errors and logs never carry a child's id or a key's hash
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        # SQLAlchemy, not sqlite3, emits BEGIN (below), so writes can take the lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {settings.busy_timeout_ms}")
        _use_wal(cursor, settings.busy_timeout_ms / 1000)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA mmap_size = 268435456")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        # A deferred transaction that reads and then writes can fail at once with "database
        # is locked" when another process wrote in between; IMMEDIATE waits its turn instead.
        write = conn.get_execution_options().get("lantern_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
