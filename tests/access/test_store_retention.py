"""Retention on a real database (SQLite and PostgreSQL): only what the rule selects goes, and
the removal is logged."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from access.config import RetentionPolicy, StoreSettings
from access.data_protection import (
    months_before,
    retention_log_rows,
    retention_report,
    subject_access,
)
from access.schema import audit_log, cohort_children, retention_policy
from access.store import Store

DAY = timedelta(days=1)
PROMPT = {"advisory": "This prompt is advisory.", "reasons": []}


def insert_audit(store: Store, at: datetime, request_id: str, children=()) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            audit_log.insert().values(
                at=at, endpoint="/cohort", method="POST", outcome="allowed", request_id=request_id
            )
        )
        for rank, child in enumerate(children, start=1):
            conn.execute(
                cohort_children.insert().values(
                    at=at, request_id=request_id, rank=rank, child_id=child
                )
            )


def populate(store: Store) -> dict[str, str]:
    """Prompts and audit rows either side of the default cutoffs (12 months, 72 months)."""
    now = datetime.now(UTC)
    old = store.record_prompt(
        child_id="C1", key_name="bo", prompt=PROMPT, issued_at=months_before(now, 12) - 2 * DAY
    )
    # judged recently, but on a prompt past its time: it goes with its prompt
    store.record_judgement(old.prompt_id, "agree", key_name="bo", at=now - 300 * DAY)
    kept = store.record_prompt(
        child_id="C1", key_name="bo", prompt=PROMPT, issued_at=months_before(now, 12) + 2 * DAY
    )
    store.record_judgement(kept.prompt_id, "disagree", key_name="bo", at=now - 200 * DAY)
    insert_audit(store, months_before(now, 72) - 2 * DAY, "past-period", ["C1", "C2"])
    insert_audit(store, months_before(now, 72) + 2 * DAY, "within-period", ["C1"])
    return {"old": old.prompt_id, "kept": kept.prompt_id}


def test_a_dry_run_reports_and_removes_nothing(store: Store):
    ids = populate(store)
    report = retention_report(store, apply=False)
    assert not report.applied
    assert {i.table: i.rows for i in report.items} == {
        "judgements": 1,
        "prompts": 1,
        "cohort_children": 2,
        "audit_log": 1,
    }
    assert store.get_prompt(ids["old"]).judgements  # still there
    assert len(store.audit_rows()) == 2
    assert retention_log_rows(store) == []


def test_apply_removes_exactly_what_the_rule_selects_and_logs_it(store: Store):
    ids = populate(store)
    report = retention_report(store, apply=True)
    assert report.applied
    removed = {i.table: i.rows for i in report.items}
    assert removed == {"judgements": 1, "prompts": 1, "cohort_children": 2, "audit_log": 1}
    # what stays: the prompt inside the period with its judgement, the audit row inside its
    with pytest.raises(LookupError):
        store.get_prompt(ids["old"])
    kept = store.get_prompt(ids["kept"])
    assert [j.key_name for j in kept.judgements] == ["bo"]
    assert [r.request_id for r in store.audit_rows()] == ["within-period"]
    assert [c["audit_row"] for c in subject_access(store, "C1")["cohort_lists"]] == [
        store.audit_rows()[0].id
    ], "the child's place on the list kept stays; the one removed goes"
    # the removal is logged: one row per table, same run, with counts and cutoffs
    log = retention_log_rows(store)
    assert {r["table_name"]: r["rows"] for r in log} == removed
    assert {r["run_id"] for r in log} == {report.run_id}
    by_table = {r["table_name"]: r for r in log}
    assert by_table["audit_log"]["cutoff"] == report.items[3].cutoff.isoformat()
    assert by_table["prompts"]["oldest"] == by_table["prompts"]["newest"]
    assert all(r["operator"] for r in log)
    # applying again removes nothing and says so
    again = retention_report(store, apply=True)
    assert [i.rows for i in again.items] == [0, 0, 0, 0]
    assert len(retention_log_rows(store)) == 8


def test_a_shorter_audit_period_in_config_moves_the_database_policy_and_is_logged(
    store: Store, store_url: str
):
    store.list_keys()  # the database was created under the default policy (72 months)
    store.close()
    settings = StoreSettings(url=store_url, retention=RetentionPolicy(audit_months=24))
    store = Store(settings)
    try:
        now = datetime.now(UTC)
        insert_audit(store, months_before(now, 24) - 2 * DAY, "past-24")
        insert_audit(store, months_before(now, 24) + 2 * DAY, "within-24")
        retention_report(store, apply=True)
        assert [r.request_id for r in store.audit_rows()] == ["within-24"]
        with store.engine.connect() as conn:
            assert conn.execute(select(retention_policy.c.audit_months)).scalar() == 24
        actions = [(r["action"], r["table_name"]) for r in retention_log_rows(store)]
        assert actions[0] == ("policy changed", "audit_log")
        assert actions.count(("removed", "audit_log")) == 1
    finally:
        store.close()


def test_nothing_in_period_is_removed_on_a_busy_log(store: Store):
    now = datetime.now(UTC)
    for days in (1, 30, 365, 5 * 365):
        insert_audit(store, now - days * DAY, f"d{days}")
    for i in range(20):
        store.record_prompt(child_id=f"C{i}", key_name="bo", prompt=PROMPT)
    retention_report(store, apply=True)
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_log)).scalar() == 4
    assert len(subject_access(store, "C3")["prompts"]) == 1


@pytest.mark.parametrize(
    ("moment", "months", "expected"),
    [
        (datetime(2024, 3, 31, 9, tzinfo=UTC), 1, datetime(2024, 2, 29, 9, tzinfo=UTC)),
        (datetime(2023, 3, 31, 9, tzinfo=UTC), 1, datetime(2023, 2, 28, 9, tzinfo=UTC)),
        (datetime(2024, 1, 15, tzinfo=UTC), 12, datetime(2023, 1, 15, tzinfo=UTC)),
        (datetime(2024, 1, 31, tzinfo=UTC), 13, datetime(2022, 12, 31, tzinfo=UTC)),
        (datetime(2030, 6, 1, tzinfo=UTC), 72, datetime(2024, 6, 1, tzinfo=UTC)),
    ],
)
def test_months_before_keeps_the_day_or_takes_the_months_last(moment, months, expected):
    assert months_before(moment, months) == expected


def test_applying_gives_the_space_back_on_sqlite(sqlite_url: str):
    store = Store(StoreSettings(url=sqlite_url))
    old = months_before(datetime.now(UTC), 72) - 2 * DAY
    with store.engine.begin() as conn:
        conn.execute(
            audit_log.insert(),
            [
                {
                    "at": old,
                    "endpoint": "/prompt",
                    "method": "POST",
                    "outcome": "allowed",
                    "request_id": f"r{i}",
                    "detail": "x" * 400,
                }
                for i in range(3_000)
            ],
        )

    def pages() -> tuple[int, int]:
        with store.engine.connect() as conn:
            count = conn.exec_driver_sql("PRAGMA page_count").scalar()
            free = conn.exec_driver_sql("PRAGMA freelist_count").scalar()
        return count, free

    before, _ = pages()
    report = retention_report(store, apply=True)
    after, free = pages()
    assert report.reclaimed and free == 0 and after < before / 4, (before, after)
    assert not retention_report(store, apply=True).reclaimed, "nothing removed, nothing to do"
    store.close()
