"""The serving store: API keys, the append-only audit log, prompts issued and judgements.

One SQLAlchemy database (SQLite by default, PostgreSQL for a shared deployment) holds
(tables and triggers in :mod:`serving.schema`):

``api_keys``
    Keys are stored as the SHA-256 of the token only; a token is
    ``lantern_<key id>_<secret>`` with 256 random bits of secret, so a plain hash is as good
    as a slow one and verification is one indexed look-up (cached per process for
    :attr:`StoreSettings.key_cache_seconds`). Names are never reused, so an audit row's key
    name always means one key.
``audit_log``
    Append-only. This module has no update or delete of audit rows except
    :meth:`Store.retention`, and the database refuses the rest itself: a trigger aborts
    every UPDATE, and every DELETE of a row younger than the period in the one-row table
    ``retention_policy`` (PostgreSQL also refuses TRUNCATE). Changing the period is recorded
    by a trigger in ``retention_log``, which is append-only too. The triggers stop mistakes
    and casual tampering by anyone using the application's database login; a database owner
    can still drop them, so a shared deployment should give the service a login that may
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

import calendar
import getpass
import hashlib
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    func,
    or_,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError

from serving.config import StoreSettings
from serving.permissions import Role
from serving.schema import (
    AUDIT_COLUMNS,
    api_keys,
    audit_log,
    create_schema,
    judgements,
    prompts,
    retention_log,
    retention_policy,
)

__all__ = [
    "ApiKey",
    "AuditEntry",
    "AuditRow",
    "EncodedJSON",
    "InvalidJudgementError",
    "IssuedKey",
    "Judgement",
    "KeyNameTakenError",
    "Outcome",
    "PromptRecord",
    "RetentionItem",
    "RetentionReport",
    "Store",
    "UnknownKeyError",
    "UnknownPromptError",
    "format_model_versions",
    "hash_token",
    "months_before",
    "new_prompt_id",
    "parse_model_versions",
    "prompt_record",
]

VIEWS = ("agree", "disagree")
"""A practitioner's judgement on a prompt."""

MAX_NOTE_CHARS = 4000
_TOKEN = re.compile(r"^lantern_([0-9a-f]{12})_([A-Za-z0-9_-]{40,})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


class Outcome(StrEnum):
    """What became of a request, in one word."""

    allowed = "allowed"
    refused = "refused"
    error = "error"


class UnknownPromptError(LookupError):
    """No prompt has this id (never issued, or removed by retention); the service answers 404."""


class InvalidJudgementError(ValueError):
    """A judgement's view or note is not acceptable; the message says what to send."""


class KeyNameTakenError(ValueError):
    """A key with this name exists (names are never reused)."""


class UnknownKeyError(LookupError):
    """No key has this name."""


# --------------------------------------------------------------------------- pure helpers


def hash_token(token: str) -> str:
    """SHA-256 (hex) of an API key: what the database stores instead of the key."""
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> tuple[str, str]:
    key_id = secrets.token_hex(6)
    return key_id, f"lantern_{key_id}_{secrets.token_urlsafe(32)}"


def looks_like_token(token: str) -> bool:
    """Whether ``token`` has the shape of a Lantern key (checked before any look-up)."""
    return bool(_TOKEN.match(token))


def format_model_versions(versions: Mapping[str, str | int]) -> str:
    """``{"serious_violence": 2, "exclusion_neet": 3}`` -> ``"exclusion_neet=3,serious_violence=2"``.

    The service sends this in the ``x-lantern-model-versions`` response header, and the
    audit log stores it as text.
    """
    return ",".join(f"{name}={versions[name]}" for name in sorted(versions))


def parse_model_versions(text_: str | None) -> dict[str, str]:
    """The inverse of :func:`format_model_versions` (empty for None or "")."""
    out = {}
    for pair in (text_ or "").split(","):
        name, sep, version = pair.strip().partition("=")
        if sep and name:
            out[name] = version
    return out


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (the last day if shorter).

    Never later than the databases' own month arithmetic, so rows this selects as expired
    are ones the audit trigger also sees as expired.
    """
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _now() -> datetime:
    return datetime.now(UTC)


def storable(text: str) -> str:
    """``text`` as every backend can store it: a lone surrogate (invalid UTF-8) and NUL (which
    PostgreSQL refuses) are written as backslash escapes instead of failing the write."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("\x00", "\\x00")


def _clip(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    value = storable(str(value))
    return value if len(value) <= limit else value[: limit - 1] + "…"


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class ApiKey:
    """A stored key (never the key itself).

    Attributes
    ----------
    name, role, key_id : str
        ``key_id`` is the public middle part of the token, to tell keys apart.
    created_at : datetime
    revoked_at : datetime or None
    """

    name: str
    role: str
    key_id: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        """Whether the key was revoked."""
        return self.revoked_at is not None


@dataclass(frozen=True)
class IssuedKey:
    """A key just created: ``token`` is shown once and never stored."""

    key: ApiKey
    token: str


@dataclass(frozen=True)
class AuditEntry:
    """One audit row to append (the store adds its id and time).

    Attributes
    ----------
    endpoint, method : str
        Request path and HTTP method (``CLI`` for a ``lantern`` command).
    outcome : Outcome
    request_id : str
    status : int or None
        HTTP status (None for a command).
    key_name, role, child_id, purpose, model_versions, detail : str or None
    """

    endpoint: str
    method: str
    outcome: Outcome | str
    request_id: str
    status: int | None = None
    key_name: str | None = None
    role: str | None = None
    child_id: str | None = None
    purpose: str | None = None
    model_versions: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class AuditRow(AuditEntry):
    """A stored audit row: an :class:`AuditEntry` with its ``id`` and ``at`` (UTC)."""

    id: int = 0
    at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain values, columns in the table's order (``at`` as ISO 8601)."""
        row = asdict(self)
        row["at"] = self.at.isoformat() if self.at else None
        return {name: row[name] for name in AUDIT_COLUMNS}


@dataclass(frozen=True)
class Judgement:
    """A practitioner's view of a prompt."""

    prompt_id: str
    view: str
    note: str | None
    key_name: str
    at: datetime


@dataclass(frozen=True)
class PromptRecord:
    """A prompt issued, with the judgements recorded on it (oldest first)."""

    prompt_id: str
    child_id: str
    issued_at: datetime
    key_name: str
    purpose: str | None
    model_versions: str | None
    prompt: dict[str, Any]
    judgements: tuple[Judgement, ...] = ()
    encoded: str | None = field(default=None, repr=False, compare=False)
    """The prompt exactly as sent (JSON text), when the sender encoded it already."""


@dataclass(frozen=True)
class RetentionItem:
    """What the retention rule selects (or removed) in one table."""

    table: str
    rule: str
    cutoff: datetime
    rows: int
    oldest: datetime | None = None
    newest: datetime | None = None


@dataclass(frozen=True)
class RetentionReport:
    """One retention run: dry run (``applied`` False) or applied and logged as ``run_id``."""

    applied: bool
    at: datetime
    run_id: str
    items: tuple[RetentionItem, ...] = field(default_factory=tuple)


def prompt_record(
    *,
    child_id: str,
    key_name: str,
    prompt: Mapping[str, Any],
    purpose: str | None = None,
    model_versions: str | Mapping[str, str | int] | None = None,
    issued_at: datetime | None = None,
    prompt_id: str | None = None,
    encoded: str | None = None,
) -> PromptRecord:
    """A prompt as issued, ready to store (no I/O).

    Parameters
    ----------
    child_id : str
        The child's pseudonymised id.
    key_name : str
        The key that asked for it.
    prompt : mapping
        The prompt as sent (JSON-serialisable).
    purpose : str, optional
        The purpose the practitioner stated.
    model_versions : str or mapping, optional
        E.g. ``{"serious_violence": 2}`` (see :func:`format_model_versions`).
    issued_at : datetime, optional
        Default: now (UTC).
    prompt_id : str, optional
        The id the prompt already carries (a UUID); default :func:`new_prompt_id`.
    encoded : str, optional
        ``prompt`` as the JSON text that was sent; stored byte for byte instead of being
        encoded again.
    """
    if prompt_id is not None and not _is_uuid(prompt_id):
        raise ValueError(f"prompt_id {prompt_id!r} is not a UUID; leave it out for a new one")
    if not isinstance(model_versions, str | None):
        model_versions = format_model_versions(model_versions)
    return PromptRecord(
        prompt_id=prompt_id or new_prompt_id(),
        child_id=str(child_id),
        issued_at=issued_at or _now(),
        key_name=key_name,
        purpose=_clip(purpose, 500),
        model_versions=_clip(model_versions, 500),
        prompt=dict(prompt),
        encoded=encoded,
    )


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


def new_prompt_id() -> str:
    """A new prompt id: a UUID whose first 48 bits are the time in milliseconds (the
    version 7 layout), so new prompts go to the end of the table's index, not all over it."""
    millis = time.time_ns() // 1_000_000
    bits = (millis & (2**48 - 1)) << 80 | secrets.randbits(80)
    bits = bits & ~(0xF << 76) | 0x7 << 76  # version 7
    bits = bits & ~(0x3 << 62) | 0x2 << 62  # RFC 4122 variant
    return str(uuid.UUID(int=bits))


_AUDIT_INSERT = audit_log.insert().returning(audit_log.c.id, sort_by_parameter_order=True)


def _audit_values(entry: AuditEntry, at: datetime) -> dict[str, Any]:
    return {
        "at": at,
        "key_name": _clip(entry.key_name, 100),
        "role": _clip(entry.role, 20),
        "endpoint": _clip(entry.endpoint, 300),
        "method": _clip(entry.method, 10),
        "child_id": _clip(entry.child_id, 200),
        "purpose": _clip(entry.purpose, 500),
        "model_versions": _clip(entry.model_versions, 500),
        "status": entry.status,
        "outcome": Outcome(entry.outcome).value,
        "detail": _clip(entry.detail, 500),
        "request_id": _clip(entry.request_id, 64),
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
    def _write(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(lantern_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
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
        key_id, token = _new_token()
        key = ApiKey(name=name, role=role.value, key_id=key_id, created_at=_now())
        try:
            with self._write() as conn:
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
        with self._read() as conn:
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
        with self._write() as conn:
            conn.execute(
                api_keys.update()
                .where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=_now())
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
        with self._read() as conn:
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
        at = _now()
        values = [_audit_values(entry, at) for entry in entries]
        ids: list[int] = []
        # Statements with parameter lists: one multi-row INSERT each, no per-row compiling.
        with self._write() as conn:
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
                key_name=f"cli:{_operator()}",
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
        with self._read() as conn:
            rows = conn.execute(query).mappings().all()
        return [AuditRow(**dict(r)) for r in rows]

    # ------------------------------------------------------------------ prompts

    def record_prompt(self, **details: Any) -> PromptRecord:
        """Store a prompt as issued and return it; takes the arguments of
        :func:`prompt_record`."""
        record = prompt_record(**details)
        with self._write() as conn:
            conn.execute(prompts.insert(), [_prompt_values(record)])
        return record

    def get_prompt(self, prompt_id: str) -> PromptRecord:
        """The prompt issued with this id, with its judgements.

        Raises
        ------
        UnknownPromptError
            If there is none.
        """
        with self._read() as conn:
            return self._prompt(conn, prompt_id)

    def _prompt(self, conn: Connection, prompt_id: str) -> PromptRecord:
        row = None
        if _is_uuid(prompt_id):
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
            at=at or _now(),
        )
        with self._write() as conn:
            self._prompt(conn, prompt_id)
            conn.execute(judgements.insert().values(**asdict(judgement)))
        return judgement

    # ------------------------------------------------------------------ data protection

    def subject_access(self, child_id: str) -> dict[str, Any]:
        """Everything this store holds about one child: prompts (with their judgements) and
        audit rows, as plain JSON-ready values."""
        with self._read() as conn:
            ids = (
                conn.execute(
                    select(prompts.c.prompt_id)
                    .where(prompts.c.child_id == child_id)
                    .order_by(prompts.c.issued_at)
                )
                .scalars()
                .all()
            )
            records = [self._prompt(conn, i) for i in ids]
        return {
            "prompts": [_jsonable(_public(r)) for r in records],
            "audit_rows": [r.as_dict() for r in self.audit_rows(child_id=child_id)],
        }

    def retention(self, *, apply: bool = False) -> RetentionReport:
        """Find (dry run) or remove (``apply=True``) what the retention policy no longer keeps.

        A prompt is removed with all its judgements once it was issued more than
        ``prompts_months`` ago; an audit row once it was written more than ``audit_months``
        ago. Applying first sets the database's audit period to the settings' (the change is
        logged by the database), then removes the rows and writes one ``retention_log`` row
        per table, all in one transaction.

        Returns
        -------
        RetentionReport
        """
        policy = self.settings.retention
        now = _now()
        run_id = str(uuid.uuid4())
        prompt_cut = months_before(now, policy.prompts_months)
        audit_cut = months_before(now, policy.audit_months)
        old_prompts = select(prompts.c.prompt_id).where(prompts.c.issued_at < prompt_cut)
        rules = (
            (
                judgements,
                judgements.c.at,
                or_(judgements.c.prompt_id.in_(old_prompts), judgements.c.at < prompt_cut),
                f"on prompts issued over {policy.prompts_months} months ago",
                prompt_cut,
            ),
            (
                prompts,
                prompts.c.issued_at,
                prompts.c.issued_at < prompt_cut,
                f"issued over {policy.prompts_months} months ago",
                prompt_cut,
            ),
            (
                audit_log,
                audit_log.c.at,
                audit_log.c.at < audit_cut,
                f"written over {policy.audit_months} months ago",
                audit_cut,
            ),
        )
        items = []
        with self._write() if apply else self._read() as conn:
            if apply:
                conn.execute(
                    retention_policy.update()
                    .where(retention_policy.c.id == 1)
                    .values(audit_months=policy.audit_months)
                )
            for table, when, where, rule, cutoff in rules:
                n, oldest, newest = conn.execute(
                    select(func.count(), func.min(when), func.max(when)).where(where)
                ).one()
                item = RetentionItem(
                    table=table.name,
                    rule=rule,
                    cutoff=cutoff,
                    rows=n,
                    oldest=_aware(oldest),
                    newest=_aware(newest),
                )
                if apply:
                    if n:
                        n = conn.execute(table.delete().where(where)).rowcount
                        item = replace(item, rows=n)
                    conn.execute(
                        retention_log.insert().values(
                            at=now,
                            run_id=run_id,
                            table_name=item.table,
                            action="removed",
                            detail=f"rows {rule}",
                            cutoff=cutoff,
                            rows=n,
                            oldest=item.oldest,
                            newest=item.newest,
                            operator=_clip(_operator(), 100),
                        )
                    )
                items.append(item)
        return RetentionReport(applied=apply, at=now, run_id=run_id, items=tuple(items))

    def retention_log_rows(self) -> list[dict[str, Any]]:
        """The retention log, oldest first (plain values)."""
        with self._read() as conn:
            rows = conn.execute(select(retention_log).order_by(retention_log.c.id)).mappings()
            return [_jsonable(dict(r)) for r in rows]


# --------------------------------------------------------------------------- row helpers


def _public(record: PromptRecord) -> dict[str, Any]:
    return {k: v for k, v in asdict(record).items() if k != "encoded"}


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


def _aware(value: datetime | str | None) -> datetime | None:
    # min()/max() over a SQLite column come back as text, without the column's type.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except (ValueError, TypeError, AttributeError):
        return False


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
