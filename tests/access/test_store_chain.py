"""The audit log's HMAC chain on a real database (SQLite and PostgreSQL): rows are chained as
written, and a row changed, deleted or forged behind the store's back is named by the check."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from access.chain import row_mac
from access.config import StoreSettings
from access.data_protection import months_before, retention_report
from access.integrity import verify_audit_log
from access.records import AuditEntry, Outcome
from access.schema import audit_log
from access.secret import SecretError
from access.store import Store


def entry(n: int, **extra) -> AuditEntry:
    return AuditEntry(
        endpoint="/prompt",
        method="POST",
        outcome=Outcome.allowed,
        request_id=f"r{n}",
        status=200,
        key_name="bo",
        child_id=f"C{n}",
        purpose="review",
        **extra,
    )


def bypass(store: Store, statement: str, **params) -> None:
    """Run ``statement`` as a database owner would: with the append-only triggers dropped."""
    with store.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            for name in ("audit_log_no_update", "audit_log_no_early_delete"):
                conn.execute(text(f"DROP TRIGGER {name}"))
        else:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        conn.execute(text(statement), params)


def test_rows_are_chained_as_written_and_the_check_finds_the_log_whole(store: Store):
    store.append_audits([entry(1), entry(2)])
    store.append_audits([entry(3, children=("C7", "C8"))])
    rows = store.audit_rows()
    assert all(len(r.mac) == 64 for r in rows) and len({r.mac for r in rows}) == 3
    check = verify_audit_log(store)
    assert check.whole and check.rows == 3


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE audit_log SET child_id = 'C999' WHERE request_id = 'r2'",
        "UPDATE audit_log SET at = at WHERE request_id = 'r2'",  # untouched: still whole
        "DELETE FROM audit_log WHERE request_id = 'r2'",
    ],
    ids=["changed", "touched", "deleted"],
)
def test_a_row_changed_or_deleted_by_the_owner_is_named(store: Store, change: str):
    store.append_audits([entry(1), entry(2), entry(3)])
    ids = {r.request_id: r.id for r in store.audit_rows()}
    bypass(store, change)
    check = verify_audit_log(store)
    if "SET at = at" in change:
        assert check.whole
    elif change.startswith("UPDATE"):
        assert check.first_bad == ids["r2"] and "changed" in check.problem
    else:
        assert check.first_bad == ids["r3"], "the row after a deleted one fails"


def test_a_forged_row_appended_without_the_secret_is_named(store: Store):
    store.append_audits([entry(1)])
    with store.engine.begin() as conn:
        conn.execute(
            audit_log.insert().values(
                at=datetime.now(UTC),
                endpoint="/prompt",
                method="POST",
                outcome="allowed",
                request_id="forged",
                mac="0" * 64,
            )
        )
    store.append_audits([entry(2)])
    forged = next(r.id for r in store.audit_rows() if r.request_id == "forged")
    assert verify_audit_log(store).first_bad == forged


def test_a_cohorts_children_are_in_the_chain(store: Store):
    store.append_audits([entry(1, children=("C7", "C8"))])
    with store.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER cohort_children_no_update"))
        else:
            conn.execute(text("ALTER TABLE cohort_children DISABLE TRIGGER USER"))
        conn.execute(text("UPDATE cohort_children SET child_id = 'C1' WHERE child_id = 'C8'"))
    assert verify_audit_log(store).first_bad == store.audit_rows()[0].id


def test_retention_leaves_an_anchor_the_kept_rows_chain_from(store: Store):
    """Rows past the period, chained as the store would have chained them, then removed by
    retention: the rows kept still verify. Removing old rows any other way is caught."""
    secret = store.secret
    old_at = months_before(datetime.now(UTC), 72) - timedelta(days=3)
    previous = ""
    with store.engine.begin() as conn:
        for n in range(3):
            values = {
                "at": old_at + timedelta(seconds=n),
                "endpoint": "/prompt",
                "method": "POST",
                "outcome": "allowed",
                "request_id": f"old{n}",
            }
            values["mac"] = previous = row_mac(secret, previous, values)
            conn.execute(audit_log.insert().values(**values))
    store.append_audits([entry(1), entry(2)])
    assert verify_audit_log(store).whole
    report = retention_report(store, apply=True)
    assert {i.table: i.rows for i in report.items}["audit_log"] == 3
    check = verify_audit_log(store)
    assert check.whole and check.rows == 2
    store.append_audits([entry(3)])
    assert verify_audit_log(store).whole


def test_old_rows_removed_without_retention_break_the_chain(store: Store):
    secret = store.secret
    old_at = months_before(datetime.now(UTC), 72) - timedelta(days=3)
    values = {
        "at": old_at,
        "endpoint": "/prompt",
        "method": "POST",
        "outcome": "allowed",
        "request_id": "old",
    }
    with store.engine.begin() as conn:
        conn.execute(audit_log.insert().values(**values, mac=row_mac(secret, "", values)))
    store.append_audits([entry(1)])
    with store.engine.begin() as conn:  # old enough for the trigger, but no retention run
        conn.execute(text("DELETE FROM audit_log WHERE request_id = 'old'"))
    assert verify_audit_log(store).first_bad == store.audit_rows()[0].id


def test_a_lost_secret_is_not_silently_replaced(sqlite_url: str, tmp_path):
    settings = StoreSettings(url=sqlite_url)
    store = Store(settings)
    store.append_audits([entry(1)])
    store.close()
    path = settings.secret_path()
    assert path.stat().st_mode & 0o777 == 0o600
    path.unlink()
    again = Store(settings)
    with pytest.raises(SecretError, match="is missing, but the audit log .* is chained"):
        again.append_audits([entry(2)])
    assert not path.exists()
    again.close()


def test_a_secret_others_may_read_is_refused(sqlite_url: str):
    settings = StoreSettings(url=sqlite_url)
    Store(settings).append_audits([entry(1)])
    settings.secret_path().chmod(0o644)
    with pytest.raises(SecretError, match="chmod 600"):
        Store(settings).append_audits([entry(2)])
