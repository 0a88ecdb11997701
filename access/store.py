"""The access store: API keys, the append-only audit log, prompts issued and judgements.

One SQLAlchemy database (SQLite by default, PostgreSQL for a shared deployment) holds
(tables and triggers in :mod:`access.schema`):

``api_keys``
    Keys are stored as the SHA-256 of the token only; a token is
    ``lantern_<key id>_<secret>`` with 256 random bits of secret, so a plain hash is as good
    as a slow one and verification is one indexed look-up (cached per process for
    :attr:`StoreSettings.key_cache_seconds`). Names are never reused, so an audit row's key
    name always means one key.
``audit_log``
    Append-only. Lantern updates no audit row and deletes them only in
    :func:`access.data_protection.retention_report`, and the database refuses the rest itself: a
    trigger aborts every UPDATE, and every DELETE of a row younger than the period in the
    one-row table ``retention_policy`` (PostgreSQL also refuses TRUNCATE). Changing the period is
    recorded by a trigger in ``retention_log``, which is append-only too. The triggers stop
    mistakes and casual tampering by anyone using the application's database login; a database
    owner can still drop them, so a shared deployment should give the service a login that may
    only INSERT and SELECT on ``audit_log``.
``prompts`` and ``judgements``
    Each prompt issued, and the practitioners' agree / disagree judgements on it.
``retention_log``
    What each ``lantern retention --apply`` removed: table, rule, cutoff, row count and the
    time span of the removed rows.

Tables are created on first use (never on import or construction). SQLite runs in WAL mode
with ``synchronous=NORMAL``; writes take the write lock when they begin (``BEGIN
IMMEDIATE``) and wait up to ``busy_timeout_ms`` for it, so several worker processes can
write to one file safely.
"""

from __future__ import annotations

import getpass
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError

from access.config import StoreSettings
from access.records import (
    MAX_NOTE_CHARS,
    VIEWS,
    ApiKey,
    AuditEntry,
    AuditRow,
    InvalidJudgementError,
    IssuedKey,
    Judgement,
    KeyNameTakenError,
    Outcome,
    PromptRecord,
    UnknownKeyError,
    UnknownPromptError,
    clip,
    hash_token,
    is_uuid,
    looks_like_token,
    new_token,
    now,
    prompt_record,
    storable,
)
from access.roles import Role
from access.schema import api_keys, audit_log, create_schema, judgements, prompts

__all__ = ["EncodedJSON", "Store", "operator_name"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


def _prompt_values(record: PromptRecord) -> dict[str, Any]:
    # Shallow: dataclasses.asdict would deep-copy the whole prompt document for nothing.
    values = {f.name: getattr(record, f.name) for f in fields(record) if f.name in _PROMPT_COLUMNS}
    if record.encoded is not None:
        values["prompt"] = EncodedJSON(record.encoded)
    return values


_PROMPT_COLUMNS = frozenset(c.name for c in prompts.columns)


class EncodedJSON(str):
    """JSON text encoded already (the body a response carried): stored as it is."""


def _json_text(value: Any) -> str:
    """The database's JSON serialiser: encoded text as it is, anything else encoded now."""
    return str(value) if isinstance(value, EncodedJSON) else json.dumps(value)


_AUDIT_INSERT = audit_log.insert().returning(audit_log.c.id, sort_by_parameter_order=True)


def _audit_values(entry: AuditEntry, at: datetime) -> dict[str, Any]:
    return {
        "at": at,
        "key_name": clip(entry.key_name, 100),
        "role": clip(entry.role, 20),
        "endpoint": clip(entry.endpoint, 300),
        "method": clip(entry.method, 10),
        "child_id": clip(entry.child_id, 200),
        "purpose": clip(entry.purpose, 500),
        "model_versions": clip(entry.model_versions, 500),
        "status": entry.status,
        "outcome": Outcome(entry.outcome).value,
        "detail": clip(entry.detail, 500),
        "request_id": clip(entry.request_id, 64),
    }


# --------------------------------------------------------------------------- engine


def _make_engine(settings: StoreSettings) -> Engine:
    url = make_url(settings.url)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, json_serializer=_json_text)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": settings.busy_timeout_ms / 1000},
        json_serializer=_json_text,
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        # SQLAlchemy, not sqlite3, emits BEGIN (below), so writes can take the lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {settings.busy_timeout_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")
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


# --------------------------------------------------------------------------- the store


class Store:
    """API keys, audit log, prompts and judgements in one database.

    Constructing a store does no I/O; the first call connects and creates any missing tables.
    Safe to share between threads, and between processes through the database.

    Parameters
    ----------
    settings : StoreSettings, optional
        Default: ``StoreSettings()`` (``LANTERN_DATABASE_URL`` or ``sqlite:///data/lantern.db``).
    clock : callable, optional
        Seconds on a clock that never goes back, for the key cache only (when a verified
        key stops being trusted without a look at the database). Default
        :func:`time.monotonic`; a test passes a clock it advances itself.
    """

    def __init__(
        self,
        settings: StoreSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or StoreSettings()
        self._clock = clock
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[float, ApiKey]] = {}

    # ------------------------------------------------------------------ plumbing

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (connecting and creating the tables on first use)."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    engine = _make_engine(self.settings)
                    try:
                        create_schema(engine, self.settings.retention.audit_months)
                    except BaseException:
                        engine.dispose()
                        raise
                    self._engine = engine
        return self._engine

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A connection in a write transaction (committed on leaving, rolled back on error)."""
        with self.engine.connect() as conn:
            conn.execution_options(lantern_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection in a read transaction."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def close(self) -> None:
        """Close the database connections (the store reconnects if used again)."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
            self._keys.clear()

    def describe(self) -> str:
        """The database URL without its password, for messages."""
        try:
            return make_url(self.settings.url).render_as_string(hide_password=True)
        except ArgumentError:
            return "(an unreadable database URL)"

    # ------------------------------------------------------------------ keys

    def create_key(self, name: str, role: Role | str) -> IssuedKey:
        """Issue a new key; the token is returned once and only its hash is stored.

        Parameters
        ----------
        name : str
            Who or what holds the key, e.g. ``"asha.school-safeguarding"``: letters, digits
            and ``. _ @ -``, at most 100 characters; never reused.
        role : Role or str
            ``practitioner``, ``analyst`` or ``auditor``.

        Returns
        -------
        IssuedKey

        Raises
        ------
        KeyNameTakenError
            If a key (even a revoked one) has this name.
        ValueError
            If the name or role is not acceptable.
        """
        if not _NAME.match(name):
            raise ValueError(
                f"key name {name!r} is not acceptable: use letters, digits and . _ @ - "
                "(starting with a letter or digit), at most 100 characters"
            )
        try:
            role = Role(role)
        except ValueError:
            raise ValueError(
                f"role {role!r} is not one of {', '.join(r.value for r in Role)}"
            ) from None
        key_id, token = new_token()
        key = ApiKey(name=name, role=role.value, key_id=key_id, created_at=now())
        try:
            with self.writing() as conn:
                conn.execute(
                    api_keys.insert().values(
                        name=name,
                        role=key.role,
                        key_id=key_id,
                        key_hash=hash_token(token),
                        created_at=key.created_at,
                    )
                )
        except IntegrityError:
            if any(k.name == name for k in self.list_keys()):
                raise KeyNameTakenError(
                    f"a key named {name!r} already exists; names are never reused (so each "
                    "audit row names one key): choose another name"
                ) from None
            raise
        return IssuedKey(key=key, token=token)

    def list_keys(self) -> list[ApiKey]:
        """Every key ever issued (revoked ones too), oldest first."""
        with self.reading() as conn:
            rows = conn.execute(select(api_keys).order_by(api_keys.c.id)).mappings().all()
        return [_api_key(r) for r in rows]

    def revoke_key(self, name: str) -> ApiKey:
        """Revoke the key ``name`` (already revoked: unchanged). Other processes stop
        accepting it within ``key_cache_seconds``.

        Raises
        ------
        UnknownKeyError
            If no key has this name.
        """
        with self.writing() as conn:
            conn.execute(
                api_keys.update()
                .where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now())
            )
            row = conn.execute(select(api_keys).where(api_keys.c.name == name)).mappings().first()
        if row is None:
            raise UnknownKeyError(f"no key is named {name!r}; `lantern keys list` shows the keys")
        with self._lock:
            self._keys = {h: v for h, v in self._keys.items() if v[1].name != name}
        return _api_key(row)

    def verify_key(self, token: str) -> ApiKey | None:
        """The key this token is (revoked or not), or None if Lantern never issued it.

        A key found is remembered for ``key_cache_seconds``, so most calls do no I/O.
        """
        if not looks_like_token(token):
            return None
        digest = hash_token(token)
        cached = self.cached_key(token, digest)
        if cached is not None:
            return cached
        with self.reading() as conn:
            row = (
                conn.execute(select(api_keys).where(api_keys.c.key_hash == digest))
                .mappings()
                .first()
            )
        if row is None:
            return None
        key = _api_key(row)
        if self.settings.key_cache_seconds > 0:
            with self._lock:
                if len(self._keys) > 10_000:
                    self._keys.clear()
                self._keys[digest] = (self._clock() + self.settings.key_cache_seconds, key)
        return key

    def cached_key(self, token: str, digest: str | None = None) -> ApiKey | None:
        """The key for ``token`` if this process verified it recently, else None (no I/O)."""
        hit = self._keys.get(digest or hash_token(token))
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        return None

    # ------------------------------------------------------------------ audit

    def append_audit(self, entry: AuditEntry) -> AuditRow:
        """Append one row to the audit log, stamped now (UTC), and return it.

        Raises
        ------
        sqlalchemy.exc.SQLAlchemyError
            If the row could not be written (the caller must then not answer the request).
        """
        return self.append_audits([entry])[0]

    def append_audits(
        self, entries: Sequence[AuditEntry], prompts_issued: Sequence[PromptRecord] = ()
    ) -> list[AuditRow]:
        """Append audit rows, and store the prompts they answered, in one transaction.

        Either every row and prompt is written or none is: a prompt is never kept without
        the audit row of the request that issued it.

        Parameters
        ----------
        entries : sequence of AuditEntry
            Stamped now (UTC), in order.
        prompts_issued : sequence of PromptRecord
            Built by :func:`prompt_record`.

        Raises
        ------
        sqlalchemy.exc.SQLAlchemyError
            If anything could not be written (then nothing was).
        """
        at = now()
        values = [_audit_values(entry, at) for entry in entries]
        ids: list[int] = []
        # Statements with parameter lists: one multi-row INSERT each, no per-row compiling.
        with self.writing() as conn:
            if prompts_issued:
                conn.execute(prompts.insert(), [_prompt_values(r) for r in prompts_issued])
            if values:
                ids = list(conn.execute(_AUDIT_INSERT, values).scalars())
        return [AuditRow(id=row_id, **row) for row_id, row in zip(ids, values, strict=True)]

    def log_command(
        self,
        command: str,
        *,
        child_id: str | None = None,
        purpose: str | None = None,
        detail: str | None = None,
    ) -> AuditRow:
        """Append an audit row for a ``lantern`` command run by the operating-system user."""
        return self.append_audit(
            AuditEntry(
                endpoint=f"lantern {command}",
                method="CLI",
                outcome=Outcome.allowed,
                request_id=uuid.uuid4().hex,
                key_name=f"cli:{operator_name()}",
                child_id=child_id,
                purpose=purpose,
                detail=detail,
            )
        )

    def audit_rows(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        child_id: str | None = None,
        limit: int | None = None,
    ) -> list[AuditRow]:
        """Audit rows written in ``[since, until)`` (either end open), oldest first.

        Parameters
        ----------
        since, until : datetime, optional
            Aware datetimes.
        child_id : str, optional
            Only rows about this child.
        limit : int, optional
            At most this many rows (the oldest).
        """
        query = select(audit_log).order_by(audit_log.c.id)
        if since is not None:
            query = query.where(audit_log.c.at >= since)
        if until is not None:
            query = query.where(audit_log.c.at < until)
        if child_id is not None:
            query = query.where(audit_log.c.child_id == child_id)
        if limit is not None:
            query = query.limit(limit)
        with self.reading() as conn:
            rows = conn.execute(query).mappings().all()
        return [AuditRow(**dict(r)) for r in rows]

    # ------------------------------------------------------------------ prompts

    def record_prompt(self, **details: Any) -> PromptRecord:
        """Store a prompt as issued and return it; takes the arguments of
        :func:`prompt_record`."""
        record = prompt_record(**details)
        with self.writing() as conn:
            conn.execute(prompts.insert(), [_prompt_values(record)])
        return record

    def get_prompt(self, prompt_id: str) -> PromptRecord:
        """The prompt issued with this id, with its judgements.

        Raises
        ------
        UnknownPromptError
            If there is none.
        """
        with self.reading() as conn:
            return self.prompt_in(conn, prompt_id)

    def prompt_in(self, conn: Connection, prompt_id: str) -> PromptRecord:
        """The prompt with this id and its judgements, read on ``conn`` (see :meth:`get_prompt`)."""
        row = None
        if is_uuid(prompt_id):
            row = (
                conn.execute(select(prompts).where(prompts.c.prompt_id == prompt_id))
                .mappings()
                .first()
            )
        if row is None:
            raise UnknownPromptError(
                f"no prompt has id {prompt_id!r}: give the prompt_id of a prompt Lantern "
                f"issued (prompts are kept {self.settings.retention.prompts_months} months)"
            )
        views = conn.execute(
            select(judgements).where(judgements.c.prompt_id == prompt_id).order_by(judgements.c.id)
        ).mappings()
        return PromptRecord(**dict(row), judgements=tuple(_judgement(j) for j in views))

    def record_judgement(
        self,
        prompt_id: str,
        view: str,
        *,
        key_name: str,
        note: str | None = None,
        at: datetime | None = None,
    ) -> Judgement:
        """Record a practitioner's judgement on a prompt.

        Parameters
        ----------
        prompt_id : str
        view : {"agree", "disagree"}
        key_name : str
            The key recording it.
        note : str, optional
            The practitioner's own words (at most 4,000 characters).
        at : datetime, optional
            Default: now (UTC).

        Raises
        ------
        InvalidJudgementError
            If ``view`` is not ``agree`` or ``disagree``, or the note is too long.
        UnknownPromptError
            If no prompt has this id.
        """
        if view not in VIEWS:
            raise InvalidJudgementError(
                f"view must be 'agree' or 'disagree', not {view!r}; add your reasons in the note"
            )
        if note is not None and len(note) > MAX_NOTE_CHARS:
            raise InvalidJudgementError(
                f"the note has {len(note):,} characters; keep it to {MAX_NOTE_CHARS:,} and "
                "record the rest in the case file"
            )
        judgement = Judgement(
            prompt_id=prompt_id,
            view=view,
            note=None if note is None else storable(note),
            key_name=key_name,
            at=at or now(),
        )
        with self.writing() as conn:
            self.prompt_in(conn, prompt_id)
            conn.execute(judgements.insert().values(**asdict(judgement)))
        return judgement


# --------------------------------------------------------------------------- row helpers


def _api_key(row: Mapping[str, Any]) -> ApiKey:
    return ApiKey(
        name=row["name"],
        role=row["role"],
        key_id=row["key_id"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


def _judgement(row: Mapping[str, Any]) -> Judgement:
    return Judgement(
        prompt_id=row["prompt_id"],
        view=row["view"],
        note=row["note"],
        key_name=row["key_name"],
        at=row["at"],
    )


def operator_name() -> str:
    """The operating-system user running this process (``unknown`` if it has none)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
