"""The serving store's tables, and the triggers that keep the audit log append-only.

See :mod:`access.store` for what each table holds. :func:`create_schema` creates whatever
is missing (tables, triggers, the one-row retention policy) in one transaction, so several
processes may call it at once: SQLite serialises them with ``BEGIN IMMEDIATE``, PostgreSQL
with an advisory lock.

The append-only rule is enforced by the database, not only by the code:

- an UPDATE of ``audit_log`` is refused;
- a DELETE of an ``audit_log`` row is refused unless the row is older than
  ``retention_policy.audit_months`` (the only deletion is ``lantern retention --apply``);
  PostgreSQL also refuses TRUNCATE;
- ``retention_log`` refuses UPDATE and DELETE; ``retention_policy`` keeps its one row, and
  any change of its period is written to ``retention_log`` by a trigger.

A DELETE window tied to a period in the database (rather than, say, a session flag set by the
retention command) needs no trust in whoever connects: a young row cannot be deleted however
the statement is issued.
"""

from __future__ import annotations

import re
from datetime import UTC

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from access.roles import Role

__all__ = [
    "AUDIT_COLUMNS",
    "UTCDateTime",
    "api_keys",
    "audit_log",
    "cohort_children",
    "create_schema",
    "SchemaError",
    "judgements",
    "metadata",
    "prompts",
    "retention_log",
    "retention_policy",
]


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime; SQLite stores it as naive UTC text, PostgreSQL as timestamptz."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone; give an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_ID = BigInteger().with_variant(Integer, "sqlite")
_DOC = JSON().with_variant(JSONB, "postgresql")
metadata = MetaData()

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("key_id", String(12), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    Column("expires_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
    CheckConstraint(f"role IN ({', '.join(repr(r.value) for r in Role)})", name="known_role"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("key_name", String(100)),
    Column("role", String(20)),
    Column("endpoint", String(300), nullable=False),
    Column("method", String(10), nullable=False),
    Column("child_id", String(200), index=True),
    Column("purpose", String(500)),
    Column("model_versions", String(500)),
    Column("status", Integer),
    Column("outcome", String(10), nullable=False),
    Column("detail", String(500)),
    Column("request_id", String(64), nullable=False),
    Column("client", String(100)),
    Column("mac", String(64)),
)
AUDIT_COLUMNS = tuple(c.name for c in audit_log.columns)
"""The audit table's columns, in order (the export's columns)."""

cohort_children = Table(
    "cohort_children",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("request_id", String(64), nullable=False, index=True),
    Column("rank", Integer, nullable=False),
    Column("child_id", String(200), nullable=False, index=True),
)
"""The children each cohort list returned, by the request id of its audit row (kept, and
protected, as long as the audit row: the same triggers)."""

prompts = Table(
    "prompts",
    metadata,
    Column("prompt_id", String(36), primary_key=True),
    Column("child_id", String(200), nullable=False, index=True),
    Column("issued_at", UTCDateTime, nullable=False, index=True),
    Column("key_name", String(100), nullable=False),
    Column("purpose", String(500)),
    Column("model_versions", String(500)),
    Column("prompt", _DOC, nullable=False),
)

judgements = Table(
    "judgements",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("prompt_id", String(36), ForeignKey("prompts.prompt_id"), nullable=False, index=True),
    Column("view", String(10), nullable=False),
    Column("note", Text),
    Column("key_name", String(100), nullable=False),
    Column("at", UTCDateTime, nullable=False, index=True),
    CheckConstraint("\"view\" IN ('agree', 'disagree')", name="known_view"),
)

retention_policy = Table(
    "retention_policy",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("audit_months", Integer, nullable=False),
    CheckConstraint("id = 1", name="one_row"),
    CheckConstraint("audit_months >= 1", name="positive_period"),
)

retention_log = Table(
    "retention_log",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("run_id", String(36), nullable=False),
    Column("table_name", String(50), nullable=False),
    Column("action", String(20), nullable=False),
    Column("detail", String(500), nullable=False),
    Column("cutoff", UTCDateTime),
    Column("rows", Integer, nullable=False),
    Column("oldest", UTCDateTime),
    Column("newest", UTCDateTime),
    Column("operator", String(100)),
    Column("chain_id", _ID),
    Column("chain_mac", String(64)),
)

_APPEND_ONLY = "audit_log is append-only: audit rows cannot be changed"
_TOO_YOUNG = (
    "audit_log is append-only: only rows older than the retention period may be deleted, "
    "by `lantern retention --apply`"
)
_LOG_ONLY = "retention_log is append-only: its rows cannot be changed or deleted"
_POLICY_KEPT = "retention_policy keeps its one row: update audit_months instead"

_SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS audit_log_no_early_delete BEFORE DELETE ON audit_log
    WHEN (SELECT audit_months FROM retention_policy WHERE id = 1) IS NULL
      OR OLD."at" >= datetime('now', '-' ||
         (SELECT audit_months FROM retention_policy WHERE id = 1) || ' months')
    BEGIN SELECT RAISE(ABORT, '{_TOO_YOUNG}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS cohort_children_no_update BEFORE UPDATE ON cohort_children
    BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS cohort_children_no_early_delete BEFORE DELETE
    ON cohort_children
    WHEN (SELECT audit_months FROM retention_policy WHERE id = 1) IS NULL
      OR OLD."at" >= datetime('now', '-' ||
         (SELECT audit_months FROM retention_policy WHERE id = 1) || ' months')
    BEGIN SELECT RAISE(ABORT, '{_TOO_YOUNG}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS cohort_children_no_replace BEFORE INSERT ON cohort_children
    WHEN EXISTS (SELECT 1 FROM cohort_children WHERE id = NEW.id)
    BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS retention_log_no_update BEFORE UPDATE ON retention_log
    BEGIN SELECT RAISE(ABORT, '{_LOG_ONLY}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS retention_log_no_delete BEFORE DELETE ON retention_log
    BEGIN SELECT RAISE(ABORT, '{_LOG_ONLY}'); END""",
    # INSERT OR REPLACE deletes the row it replaces without firing DELETE triggers (unless a
    # connection sets recursive_triggers), so a replacing insert is refused before it starts.
    f"""CREATE TRIGGER IF NOT EXISTS audit_log_no_replace BEFORE INSERT ON audit_log
    WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id)
    BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS retention_log_no_replace BEFORE INSERT ON retention_log
    WHEN EXISTS (SELECT 1 FROM retention_log WHERE id = NEW.id)
    BEGIN SELECT RAISE(ABORT, '{_LOG_ONLY}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS retention_policy_no_replace BEFORE INSERT
    ON retention_policy WHEN EXISTS (SELECT 1 FROM retention_policy)
    BEGIN SELECT RAISE(ABORT, '{_POLICY_KEPT}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS retention_policy_no_delete BEFORE DELETE
    ON retention_policy BEGIN SELECT RAISE(ABORT, '{_POLICY_KEPT}'); END""",
    """CREATE TRIGGER IF NOT EXISTS retention_policy_logged AFTER UPDATE ON retention_policy
    WHEN OLD.audit_months IS NOT NEW.audit_months
    BEGIN INSERT INTO retention_log
      (at, run_id, table_name, action, detail, rows, operator)
      VALUES (datetime('now'), 'policy', 'audit_log', 'policy changed',
              'audit rows kept ' || OLD.audit_months || ' -> ' || NEW.audit_months
              || ' months', 0, 'database');
    END""",
)

_POSTGRES_TRIGGERS = (
    f"""CREATE OR REPLACE FUNCTION lantern_audit_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE kept_months integer;
    BEGIN
      IF TG_OP <> 'DELETE' THEN RAISE EXCEPTION '{_APPEND_ONLY}'; END IF;
      SELECT audit_months INTO kept_months FROM retention_policy WHERE id = 1;
      IF kept_months IS NULL OR OLD."at" >= now() - make_interval(0, kept_months) THEN
        RAISE EXCEPTION '{_TOO_YOUNG}';
      END IF;
      RETURN OLD;
    END $$""",
    """CREATE OR REPLACE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION lantern_audit_append_only()""",
    """CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION lantern_audit_append_only()""",
    """CREATE OR REPLACE TRIGGER cohort_children_append_only
    BEFORE UPDATE OR DELETE ON cohort_children
    FOR EACH ROW EXECUTE FUNCTION lantern_audit_append_only()""",
    """CREATE OR REPLACE TRIGGER cohort_children_no_truncate BEFORE TRUNCATE ON cohort_children
    FOR EACH STATEMENT EXECUTE FUNCTION lantern_audit_append_only()""",
    """CREATE OR REPLACE FUNCTION lantern_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION '%', TG_ARGV[0]; END $$""",
    f"""CREATE OR REPLACE TRIGGER retention_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON retention_log
    FOR EACH STATEMENT EXECUTE FUNCTION lantern_refuse_change('{_LOG_ONLY}')""",
    f"""CREATE OR REPLACE TRIGGER retention_policy_kept
    BEFORE DELETE OR TRUNCATE ON retention_policy
    FOR EACH STATEMENT EXECUTE FUNCTION lantern_refuse_change('{_POLICY_KEPT}')""",
    """CREATE OR REPLACE FUNCTION lantern_policy_logged() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      IF OLD.audit_months IS DISTINCT FROM NEW.audit_months THEN
        INSERT INTO retention_log (at, run_id, table_name, action, detail, rows, operator)
        VALUES (now(), 'policy', 'audit_log', 'policy changed',
                'audit rows kept ' || OLD.audit_months || ' -> ' || NEW.audit_months
                || ' months', 0, current_user);
      END IF;
      RETURN NEW;
    END $$""",
    """CREATE OR REPLACE TRIGGER retention_policy_logged AFTER UPDATE ON retention_policy
    FOR EACH ROW EXECUTE FUNCTION lantern_policy_logged()""",
)


class SchemaError(RuntimeError):
    """The database holds Lantern's tables from an older version, without today's columns."""


def _check_columns(conn) -> None:
    """Refuse tables that ``create_all`` left as an older Lantern made them."""
    inspector = inspect(conn)
    for table in (api_keys, audit_log, retention_log):
        have = {c["name"] for c in inspector.get_columns(table.name)}
        missing = [c.name for c in table.columns if c.name not in have]
        if missing:
            raise SchemaError(
                f"the database's {table.name} table lacks the columns {', '.join(missing)}: "
                "it was created by an older Lantern. Export its audit log (`lantern "
                "audit-log --since ...`), keep the export, and start a new database"
            )


_SCHEMA_LOCK = 7_406_171_931  # any constant: serialises first-use schema creation on PostgreSQL


_LOGIN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

_SERVICE_GRANTS = (
    ("SELECT", ("api_keys", "retention_log", "retention_policy")),
    ("SELECT, INSERT", ("audit_log", "cohort_children", "prompts", "judgements")),
)
"""What a PostgreSQL service login may do: read, and append (and note when a key was last
used). Never any other UPDATE, nor DELETE or TRUNCATE; it owns nothing, so it cannot replace
a trigger function or disable a trigger either."""


def _grant_service_login(conn, login: str) -> None:
    """Give ``login`` :data:`_SERVICE_GRANTS` on the tables, and nothing else."""
    if not _LOGIN.match(login):
        raise ValueError(
            f"service_login {login!r} is not a plain PostgreSQL role name; use lower-case "
            "letters, digits and underscores, e.g. lantern_service"
        )
    tables = ", ".join(t.name for t in metadata.sorted_tables)
    conn.execute(text(f'REVOKE ALL ON {tables} FROM "{login}"'))
    for privileges, names in _SERVICE_GRANTS:
        conn.execute(text(f'GRANT {privileges} ON {", ".join(names)} TO "{login}"'))
    conn.execute(text(f'GRANT UPDATE (last_used_at) ON api_keys TO "{login}"'))
    for table in ("audit_log", "cohort_children", "judgements"):
        sequence = conn.execute(
            text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table}
        ).scalar()
        conn.execute(text(f'GRANT USAGE ON SEQUENCE {sequence} TO "{login}"'))


def _owned_by_another(conn) -> bool:
    """PostgreSQL: whether the tables exist and another role owns them (then this login,
    e.g. the service's, uses them as granted and runs no DDL)."""
    owner = conn.execute(
        text(
            "SELECT tableowner FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename = 'audit_log'"
        )
    ).scalar()
    return owner is not None and owner != conn.execute(text("SELECT current_user")).scalar()


def create_schema(engine: Engine, audit_months: int, service_login: str | None = None) -> None:
    """Create the missing tables and triggers, and the policy row (``audit_months``) if none.

    ``engine`` comes from :class:`access.store.Store`, whose SQLite transactions begin
    IMMEDIATE when ``lantern_write`` is set, so concurrent first uses run one after another.
    On PostgreSQL, tables owned by another role are used as they are (only their columns are
    checked); the owner, creating them, grants ``service_login`` (if given) SELECT and
    INSERT only (:data:`_SERVICE_GRANTS`).
    """
    with engine.connect() as conn:
        conn.execution_options(lantern_write=True)
        with conn.begin():
            postgres = conn.dialect.name == "postgresql"
            if postgres:
                conn.execute(text(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})"))
                if _owned_by_another(conn):
                    _check_columns(conn)
                    return
            metadata.create_all(conn)
            _check_columns(conn)
            for ddl in _POSTGRES_TRIGGERS if postgres else _SQLITE_TRIGGERS:
                conn.execute(text(ddl))
            exists = conn.execute(select(retention_policy.c.id)).first()
            if exists is None:
                conn.execute(retention_policy.insert().values(id=1, audit_months=audit_months))
            if postgres and service_login:
                _grant_service_login(conn, service_login)
