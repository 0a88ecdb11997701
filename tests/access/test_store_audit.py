"""The audit log on a real database (SQLite and PostgreSQL): written, read, and append-only."""

import sqlite3
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from store_fixtures import write_audit_rows

from access.config import StoreSettings
from access.data_protection import retention_log_rows
from access.records import AuditEntry, Outcome, format_model_versions, parse_model_versions
from access.schema import audit_log, retention_log, retention_policy
from access.store import Store


def entry(**changes) -> AuditEntry:
    values = dict(
        endpoint="/prompt",
        method="POST",
        outcome=Outcome.allowed,
        request_id="req-1",
        status=200,
        key_name="asha.school",
        role="practitioner",
        child_id="C100",
        purpose="team meeting on attendance",
        model_versions="serious_violence=2",
    )
    return AuditEntry(**{**values, **changes})


def insert_old_row(store: Store, at: datetime, request_id: str) -> None:
    """An audit row written at ``at`` (only raw SQL can backdate one)."""
    with store.engine.begin() as conn:
        conn.execute(
            audit_log.insert().values(
                at=at, endpoint="/prompt", method="POST", outcome="allowed", request_id=request_id
            )
        )


def test_an_appended_row_reads_back_whole_with_its_utc_time(store: Store):
    before = datetime.now(UTC)
    first = store.append_audit(entry())
    second = store.append_audit(entry(request_id="req-2", outcome="refused", status=403))
    rows = store.audit_rows()
    assert [r.id for r in rows] == [first.id, second.id] and second.id > first.id
    row = rows[0]
    assert (row.key_name, row.role, row.endpoint, row.method) == (
        "asha.school",
        "practitioner",
        "/prompt",
        "POST",
    )
    assert (row.child_id, row.purpose, row.model_versions) == (
        "C100",
        "team meeting on attendance",
        "serious_violence=2",
    )
    assert (row.status, row.outcome, row.request_id) == (200, "allowed", "req-1")
    assert row.at.tzinfo == UTC and before <= row.at <= datetime.now(UTC)
    assert rows[1].outcome == "refused" and rows[1].status == 403


def test_rows_are_selected_by_time_and_child(store: Store):
    insert_old_row(store, datetime(2021, 3, 1, tzinfo=UTC), "old")
    store.append_audit(entry(child_id="C1", request_id="a"))
    store.append_audit(entry(child_id="C2", request_id="b"))
    assert [r.request_id for r in store.audit_rows(child_id="C2")] == ["b"]
    since = datetime.now(UTC) - timedelta(days=1)
    assert [r.request_id for r in store.audit_rows(since)] == ["a", "b"]
    assert [r.request_id for r in store.audit_rows(until=since)] == ["old"]
    assert [r.request_id for r in store.audit_rows(limit=2)] == ["old", "a"]


def test_overlong_values_are_clipped_not_lost(store: Store):
    row = store.append_audit(entry(endpoint="/" + "x" * 1000, purpose="p" * 2000))
    stored = store.audit_rows()[0]
    assert len(stored.endpoint) == 300 and stored.endpoint.startswith("/xxx")
    assert len(stored.purpose) == 500 and stored.id == row.id


def test_the_database_refuses_to_change_an_audit_row(store: Store):
    store.append_audit(entry())
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET child_id = 'C999'"))
    assert store.audit_rows()[0].child_id == "C100"


def test_the_database_refuses_to_delete_an_audit_row_within_the_retention_period(store: Store):
    store.append_audit(entry())
    five_years_ago = datetime.now(UTC) - timedelta(days=5 * 365)
    insert_old_row(store, five_years_ago, "five-years")
    for sql in ("DELETE FROM audit_log", "DELETE FROM audit_log WHERE request_id = 'five-years'"):
        with pytest.raises(DBAPIError, match="older than the retention period"):
            with store.engine.begin() as conn:
                conn.execute(text(sql))
    assert len(store.audit_rows()) == 2
    if store.engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_log"))
        assert len(store.audit_rows()) == 2


def test_the_database_allows_deleting_only_rows_older_than_the_period(store: Store):
    insert_old_row(store, datetime.now(UTC) - timedelta(days=7 * 365), "seven-years")
    store.append_audit(entry(request_id="today"))
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE request_id = 'seven-years'"))
    assert [r.request_id for r in store.audit_rows()] == ["today"]


def test_the_policy_row_cannot_be_removed_and_its_changes_are_logged(store: Store):
    store.list_keys()  # first use creates the tables and the policy row
    with pytest.raises(DBAPIError, match="keeps its one row"), store.engine.begin() as conn:
        conn.execute(text("DELETE FROM retention_policy"))
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE retention_policy SET audit_months = 1"))
        assert conn.execute(select(retention_policy.c.audit_months)).scalar() == 1
    logged = retention_log_rows(store)
    assert [(r["action"], r["detail"]) for r in logged] == [
        ("policy changed", "audit rows kept 72 -> 1 months")
    ]
    with pytest.raises(DBAPIError, match="retention_log is append-only"):
        with store.engine.begin() as conn:
            conn.execute(text("DELETE FROM retention_log"))
    with pytest.raises(DBAPIError, match="retention_log is append-only"):
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE retention_log SET detail = 'nothing happened'"))
    assert len(retention_log_rows(store)) == 1


def test_sqlite_refuses_an_insert_or_replace_on_the_append_only_tables(sqlite_url: str):
    # Through a plain sqlite3 connection, as an attacker with the file would use it (no
    # connection settings of Lantern's, e.g. recursive_triggers, to rely on).
    store = Store(StoreSettings(url=sqlite_url))
    try:
        first = store.append_audit(entry(request_id="real"))
        store.log_command("retention", detail="a logged run")
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE retention_policy SET audit_months = 80"))
        logged_before = retention_log_rows(store)
    finally:
        store.close()
    path = sqlite_url.removeprefix("sqlite:///")
    forgeries = {
        "INSERT OR REPLACE INTO audit_log (id, at, endpoint, method, outcome, request_id) "
        "VALUES (?, '2015-01-01 00:00:00', '/prompt', 'POST', 'allowed', 'forged')": (first.id,),
        "REPLACE INTO audit_log (id, at, endpoint, method, outcome, request_id) "
        "VALUES (?, '2015-01-01 00:00:00', '/prompt', 'POST', 'allowed', 'forged')": (first.id,),
        "INSERT OR REPLACE INTO retention_policy (id, audit_months) VALUES (1, 1)": (),
        "INSERT OR REPLACE INTO retention_log (id, at, run_id, table_name, action, detail, rows) "
        "VALUES (1, '2015-01-01', 'x', 'audit_log', 'removed', 'forged', 0)": (),
    }
    with closing(sqlite3.connect(path)) as raw:
        for sql, args in forgeries.items():
            with pytest.raises(sqlite3.IntegrityError, match="append-only|keeps its one row"):
                with raw:
                    raw.execute(sql, args)
    store = Store(StoreSettings(url=sqlite_url))
    try:
        rows = store.audit_rows()
        assert rows[0].request_id == "real" and rows[0].at == first.at
        assert retention_log_rows(store) == logged_before
        with store.engine.connect() as conn:
            assert conn.execute(select(retention_policy.c.audit_months)).scalar() == 80
    finally:
        store.close()


def test_a_command_is_logged_under_the_operating_system_user(store: Store):
    row = store.log_command("subject-access", child_id="C5", purpose="SAR 2025/17", detail="x")
    assert row.key_name.startswith("cli:") and row.method == "CLI" and row.status is None
    assert store.audit_rows()[0].endpoint == "lantern subject-access"


def test_model_versions_round_trip_as_text():
    text_ = format_model_versions({"serious_violence": 2, "exclusion_neet": "3"})
    assert text_ == "exclusion_neet=3,serious_violence=2"
    assert parse_model_versions(text_) == {"exclusion_neet": "3", "serious_violence": "2"}
    assert parse_model_versions(None) == {} and parse_model_versions("") == {}


def test_writers_in_several_processes_lose_no_row(store_url: str):
    # Each worker creates its own store, so first-use table creation races too.
    workers, rows = 4, 40
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        done = list(
            pool.map(write_audit_rows, [store_url] * workers, range(workers), [rows] * workers)
        )
    assert done == [rows] * workers
    store = Store(StoreSettings(url=store_url))
    try:
        with store.engine.connect() as conn:
            count, distinct = conn.execute(
                select(func.count(), func.count(audit_log.c.request_id.distinct()))
            ).one()
            assert conn.execute(select(func.count()).select_from(retention_log)).scalar() == 0
        assert count == distinct == workers * rows
    finally:
        store.close()
