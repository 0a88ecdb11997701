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

Tables are created on first use (never on import or construction); how the store connects
(SQLite's locking for several writer processes) is :mod:`access.engine`'s.
"""

from __future__ import annotations

import getpass
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError

from access.chain import row_mac
from access.config import StoreSettings
from access.engine import make_engine
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
    hash_token,
    is_uuid,
    looks_like_token,
    new_token,
    now,
    prompt_record,
    storable,
)
from access.roles import Role
from access.rows import api_key, audit_values, prompt_values
from access.rows import judgement as row_judgement
from access.schema import (
    api_keys,
    audit_log,
    cohort_children,
    create_schema,
    judgements,
    prompts,
    retention_log,
)
from access.secret import obtain_secret

__all__ = ["Store", "operator_name"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


_CHAIN_LOCK = 7_406_171_932  # any constant: serialises appends to the chain on PostgreSQL

_AUDIT_INSERT = audit_log.insert().returning(audit_log.c.id, sort_by_parameter_order=True)


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
        self._secret: bytes | None = None

    # ------------------------------------------------------------------ plumbing

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (connecting and creating the tables on first use)."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    engine = make_engine(self.settings)
                    try:
                        create_schema(
                            engine,
                            self.settings.retention.audit_months,
                            self.settings.service_login,
                        )
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

    def create_key(
        self, name: str, role: Role | str, *, expires_in: timedelta | None = None
    ) -> IssuedKey:
        """Issue a new key; the token is returned once and only its hash is stored.

        Parameters
        ----------
        name : str
            Who or what holds the key, e.g. ``"asha.school-safeguarding"``: letters, digits
            and ``. _ @ -``, at most 100 characters; never reused.
        role : Role or str
            ``practitioner``, ``analyst`` or ``auditor``.
        expires_in : timedelta, optional
            The key is refused this long after it is issued (default: it does not expire).

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
        if expires_in is not None and expires_in <= timedelta(0):
            raise ValueError(f"a key must be issued to expire later, not in {expires_in}")
        key_id, token = new_token()
        issued = now()
        key = ApiKey(
            name=name,
            role=role.value,
            key_id=key_id,
            created_at=issued,
            expires_at=None if expires_in is None else issued + expires_in,
        )
        try:
            with self.writing() as conn:
                conn.execute(
                    api_keys.insert().values(
                        name=name,
                        role=key.role,
                        key_id=key_id,
                        key_hash=hash_token(token),
                        created_at=key.created_at,
                        expires_at=key.expires_at,
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
        return [api_key(r) for r in rows]

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
        return api_key(row)

    def verify_key(self, token: str) -> ApiKey | None:
        """The key this token is (revoked or expired or not), or None if Lantern never
        issued it.

        A key found is remembered for ``key_cache_seconds``, so most calls do no I/O; each
        look-up in the database records the key's last use.
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
        used = now()
        with self.writing() as conn:
            conn.execute(
                api_keys.update().where(api_keys.c.key_hash == digest).values(last_used_at=used)
            )
        key = replace(api_key(row), last_used_at=used)
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
        self,
        entries: Sequence[AuditEntry],
        records: Sequence[PromptRecord | Judgement] = (),
    ) -> list[AuditRow]:
        """Append audit rows, and store the prompts and judgements they answered, in one
        transaction.

        Either everything is written or nothing is: a prompt or a judgement is never kept
        without the audit row of the request that made it. Each row is chained to the one
        before (:mod:`access.chain`); transactions that append take the log's lock first, so
        the chain follows the ids.

        Parameters
        ----------
        entries : sequence of AuditEntry
            Stamped now (UTC), in order.
        records : sequence of PromptRecord or Judgement
            Prompts built by :func:`prompt_record`, judgements by :meth:`judgement_for`.

        Raises
        ------
        sqlalchemy.exc.SQLAlchemyError
            If anything could not be written (then nothing was).
        """
        secret = self.secret
        issued = [r for r in records if isinstance(r, PromptRecord)]
        views = [asdict(r) for r in records if isinstance(r, Judgement)]
        ids: list[int] = []
        values: list[dict[str, Any]] = []
        # Statements with parameter lists: one multi-row INSERT each, no per-row compiling.
        with self.writing() as conn:
            previous = self._chain_head(conn)
            at = now()  # under the lock, so time follows the ids
            children = []
            for entry in entries:
                row = audit_values(entry, at)
                row["mac"] = previous = row_mac(secret, previous, row, entry.children)
                values.append(row)
                children += [
                    {"at": at, "request_id": row["request_id"], "rank": i, "child_id": child}
                    for i, child in enumerate(entry.children, start=1)
                ]
            if issued:
                conn.execute(prompts.insert(), [prompt_values(r) for r in issued])
            if views:
                conn.execute(judgements.insert(), views)
            if values:
                ids = list(conn.execute(_AUDIT_INSERT, values).scalars())
            if children:
                conn.execute(cohort_children.insert(), children)
        return [
            AuditRow(id=row_id, children=entry.children, **row)
            for row_id, row, entry in zip(ids, values, entries, strict=True)
        ]

    def _log_is_chained(self) -> bool:
        with self.reading() as conn:
            return (
                conn.execute(
                    select(audit_log.c.id).where(audit_log.c.mac.is_not(None)).limit(1)
                ).first()
                is not None
            )

    def _chain_head(self, conn: Connection) -> str:
        """The ``mac`` the next row chains from, holding the log's lock until the
        transaction ends (SQLite's write transactions hold it from their start)."""
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"SELECT pg_advisory_xact_lock({_CHAIN_LOCK})"))
        last = conn.execute(
            select(audit_log.c.mac).order_by(audit_log.c.id.desc()).limit(1)
        ).first()
        if last is not None:
            return last.mac or ""
        anchor = conn.execute(
            select(retention_log.c.chain_mac)
            .where(retention_log.c.chain_mac.is_not(None))
            .order_by(retention_log.c.chain_id.desc())
            .limit(1)
        ).first()
        return anchor.chain_mac if anchor is not None else ""

    @property
    def secret(self) -> bytes:
        """The audit chain's secret (:mod:`access.secret`), created with the first row.

        Raises
        ------
        SecretError
            If it is missing while the log holds chained rows, or cannot be used.
        """
        if self._secret is None:
            self._secret = obtain_secret(
                self.settings.secret_path(), self._log_is_chained, self.describe()
            )
        return self._secret

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
            conn.execute(prompts.insert(), [prompt_values(record)])
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
        return PromptRecord(**dict(row), judgements=tuple(row_judgement(j) for j in views))

    def judgement_for(
        self,
        prompt_id: str,
        view: str,
        *,
        key_name: str,
        note: str | None = None,
        at: datetime | None = None,
    ) -> tuple[Judgement, PromptRecord]:
        """A practitioner's judgement on a prompt, checked but not yet stored (the service
        stores it with its request's audit row; :meth:`record_judgement` stores it now).

        Parameters
        ----------
        prompt_id : str
        view : {"agree", "disagree"}
        key_name : str
            The key recording it: it must be the key the prompt was issued to.
        note : str, optional
            The practitioner's own words (at most 4,000 characters).
        at : datetime, optional
            Default: now (UTC).

        Returns
        -------
        (Judgement, PromptRecord)
            The judgement, and the prompt it is on.

        Raises
        ------
        InvalidJudgementError
            If ``view`` is not ``agree`` or ``disagree``, or the note is too long.
        UnknownPromptError
            If no prompt with this id was issued to ``key_name`` (a prompt issued to another
            key gets the same answer, so ids cannot be probed).
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
        with self.reading() as conn:
            prompt = self._own_prompt(conn, prompt_id, key_name)
        judgement = Judgement(
            prompt_id=prompt_id,
            view=view,
            note=None if note is None else storable(note),
            key_name=key_name,
            at=at or now(),
        )
        return judgement, prompt

    def _own_prompt(self, conn: Connection, prompt_id: str, key_name: str) -> PromptRecord:
        try:
            record = self.prompt_in(conn, prompt_id)
        except UnknownPromptError:
            record = None
        if record is None or record.key_name != key_name:
            raise UnknownPromptError(
                f"no prompt with id {prompt_id!r} was issued to this key: a judgement is "
                "recorded by the key that received the prompt (prompts are kept "
                f"{self.settings.retention.prompts_months} months)"
            )
        return record

    def record_judgement(
        self,
        prompt_id: str,
        view: str,
        *,
        key_name: str,
        note: str | None = None,
        at: datetime | None = None,
    ) -> Judgement:
        """Record a practitioner's judgement on a prompt now; arguments and errors as
        :meth:`judgement_for`."""
        judgement, _ = self.judgement_for(prompt_id, view, key_name=key_name, note=note, at=at)
        with self.writing() as conn:
            self._own_prompt(conn, prompt_id, key_name)
            conn.execute(judgements.insert().values(**asdict(judgement)))
        return judgement


def operator_name() -> str:
    """The operating-system user running this process (``unknown`` if it has none)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
