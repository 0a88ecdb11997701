"""``lantern keys | audit-log | subject-access | retention`` on a real database, through
Typer's CliRunner and as real subprocesses."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from store_fixtures import call
from typer.testing import CliRunner

from access.config import DATABASE_URL_VARIABLE, StoreSettings
from access.data_protection import months_before, retention_log_rows
from access.records import AuditEntry, looks_like_token
from access.schema import audit_log
from access.store import Store
from lantern.cli import app
from serving.middleware import AuditMiddleware

LANTERN = str(Path(sys.executable).with_name("lantern"))
runner = CliRunner()


def lantern(url: str, *args: str):
    return runner.invoke(app, [*map(str, args), "--database-url", url])


@pytest.fixture
def cli_store(sqlite_url: str) -> Store:
    store = Store(StoreSettings(url=sqlite_url))
    yield store
    store.close()


@pytest.fixture(scope="module")
def feature_table(tmp_path_factory) -> Path:
    """A real feature table from a small synthetic partnership (two annual snapshots)."""
    from features.build import build_features, default_snapshot_dates, write_table
    from features.pointintime import index_records
    from features.synth import SynthConfig, generate

    records = index_records(generate(SynthConfig(children=300, seed=5)).tables)
    dates = default_snapshot_dates(records, "annual")[:2]
    return write_table(
        build_features(records, dates), tmp_path_factory.mktemp("features") / "features.parquet"
    )


# --------------------------------------------------------------------------- keys


def test_keys_create_prints_the_key_once_on_stdout_and_list_never_shows_it(sqlite_url, cli_store):
    done = lantern(sqlite_url, "keys", "create", "--role", "practitioner", "--name", "asha.school")
    assert done.exit_code == 0, done.output
    token = done.stdout.strip()
    assert looks_like_token(token)
    assert "shown once" in done.stderr and token not in done.stderr
    assert cli_store.verify_key(token).role == "practitioner"
    listed = lantern(sqlite_url, "keys", "list")
    assert listed.exit_code == 0
    assert "asha.school" in listed.stdout and "practitioner" in listed.stdout
    assert token not in listed.stdout and token.split("_", 2)[2] not in listed.stdout
    assert cli_store.audit_rows()[0].endpoint == "lantern keys create"


def test_keys_revoke_stops_the_key_and_is_logged(sqlite_url, cli_store):
    token = cli_store.create_key("bo.yjs", "analyst").token
    done = lantern(sqlite_url, "keys", "revoke", "bo.yjs")
    assert done.exit_code == 0 and "revoked key bo.yjs" in done.stdout
    assert cli_store.verify_key(token).revoked
    again = lantern(sqlite_url, "keys", "revoke", "bo.yjs")
    assert again.exit_code == 0 and "already revoked" in again.stdout
    assert [r.endpoint for r in cli_store.audit_rows()] == ["lantern keys revoke"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["keys", "create", "--role", "admin", "--name", "x"], "'admin' is not one of"),
        (["keys", "create", "--role", "analyst", "--name", "has space"], "letters, digits"),
        (["keys", "revoke", "nobody"], "no key is named 'nobody'"),
        (["audit-log", "--since", "2025-02-30"], "is not a date; give YYYY-MM-DD"),
        (
            ["audit-log", "--since", "2025-03-01", "--until", "2025-02-01"],
            "is before --since",
        ),
        (["subject-access", "C1", "--features", "missing.parquet"], "does not exist"),
    ],
)
def test_bad_input_exits_2_saying_what_to_do(sqlite_url, args, message):
    done = lantern(sqlite_url, *args)
    assert done.exit_code == 2, done.output
    assert message in " ".join(done.output.split())


def test_a_reused_name_exits_2(sqlite_url, cli_store):
    cli_store.create_key("cara", "auditor")
    cli_store.revoke_key("cara")
    done = lantern(sqlite_url, "keys", "create", "--role", "auditor", "--name", "cara")
    assert done.exit_code == 2 and "never reused" in done.output


@pytest.mark.parametrize("url", ["notaurl", "nosuchdriver://x/y"])
def test_an_unusable_database_url_exits_2(url):
    done = runner.invoke(app, ["keys", "list", "--database-url", url])
    assert done.exit_code == 2
    assert "the database URL is not usable" in done.output and "sqlite:///" in done.output


def test_an_unreachable_database_exits_1_naming_the_url_without_its_password():
    url = "postgresql://lantern:s3cret@/lantern?host=/nonexistent-socket-dir"
    done = runner.invoke(app, ["keys", "list", "--database-url", url])
    assert done.exit_code == 1
    assert "could not use the database" in done.output and "s3cret" not in done.output


def test_the_database_is_created_readable_by_its_owner_only(sqlite_url, cli_store):
    lantern(sqlite_url, "keys", "create", "--role", "auditor", "--name", "cara")
    cli_store.log_command("test")  # holds a connection open, so the -wal file is there
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    for made in (path, path.with_name(path.name + "-wal")):
        assert made.stat().st_mode & 0o777 == 0o600, made


def test_keys_init_creates_a_private_secret_once(sqlite_url, cli_store):
    done = lantern(sqlite_url, "keys", "init")
    assert done.exit_code == 0, done.output
    path = cli_store.settings.secret_path()
    assert path.stat().st_mode & 0o777 == 0o600 and len(path.read_text().strip()) == 64
    before = path.read_text()
    again = lantern(sqlite_url, "keys", "init")
    assert again.exit_code == 2 and "exists already" in again.output
    assert path.read_text() == before


# --------------------------------------------------------------------------- audit log


def test_audit_log_verify_exits_0_when_whole_and_1_naming_a_tampered_row(sqlite_url, cli_store):
    import sqlite3

    for n in range(3):
        cli_store.log_command("test", child_id=f"C{n}")
    done = lantern(sqlite_url, "audit-log", "verify")
    assert done.exit_code == 0, done.output
    assert "whole: 3 rows" in " ".join(done.output.split())
    second = cli_store.audit_rows()[1].id
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as raw:  # as anyone who can write the file could
        raw.execute("DROP TRIGGER audit_log_no_update")
        raw.execute("UPDATE audit_log SET child_id = 'C9' WHERE id = ?", (second,))
    done = lantern(sqlite_url, "audit-log", "verify")
    assert done.exit_code == 1, done.output
    assert f"audit row {second} fails its chain check" in " ".join(done.output.split())


def test_audit_log_alerts_shows_the_alerts_only(sqlite_url, cli_store):
    from access.records import Outcome

    quiet = lantern(sqlite_url, "audit-log", "--alerts")
    assert quiet.exit_code == 0 and "no alerts since" in quiet.output
    cli_store.append_audits(
        [
            AuditEntry("/prompt", "POST", Outcome.allowed, "r1", 200, key_name="sam"),
            AuditEntry(
                "/prompt",
                "ALERT",
                Outcome.alert,
                "r2",
                key_name="sam",
                role="practitioner",
                detail="key sam asked about more than 40 distinct children this hour",
            ),
        ]
    )
    done = lantern(sqlite_url, "audit-log", "--alerts")
    assert done.exit_code == 0, done.output
    text_ = " ".join(done.output.split())
    assert "more than 40 distinct children" in text_ and "r1" not in text_


def test_audit_log_without_since_or_verify_says_what_to_give(sqlite_url):
    done = lantern(sqlite_url, "audit-log")
    assert done.exit_code == 2 and "--since YYYY-MM-DD" in " ".join(done.output.split())


def test_audit_log_exports_the_days_asked_for_as_csv_or_json(sqlite_url, cli_store, tmp_path):
    with cli_store.engine.begin() as conn:
        for day, rid in (
            (date(2025, 1, 31), "jan"),
            (date(2025, 2, 1), "feb1"),
            (date(2025, 2, 28), "feb28"),
            (date(2025, 3, 1), "mar"),
        ):
            conn.execute(
                audit_log.insert().values(
                    at=datetime(day.year, day.month, day.day, 23, 59, tzinfo=UTC),
                    endpoint="/prompt",
                    method="POST",
                    child_id="C1",
                    status=200,
                    outcome="allowed",
                    request_id=rid,
                )
            )
    done = lantern(sqlite_url, "audit-log", "--since", "2025-02-01", "--until", "2025-02-28")
    assert done.exit_code == 0, done.output
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [r["request_id"] for r in rows] == ["feb1", "feb28"]
    assert rows[0]["at"].startswith("2025-02-01T23:59") and rows[0]["status"] == "200"
    out = tmp_path / "export" / "audit.json"
    done = lantern(
        sqlite_url, "audit-log", "--since", "2025-01-01", "--format", "json", "--out", out
    )
    assert done.exit_code == 0 and "wrote 5 audit rows" in done.stdout
    assert out.stat().st_mode & 0o777 == 0o600, "an export of children's ids is the owner's"
    exported = json.loads(out.read_text())
    assert [r["request_id"] for r in exported][:4] == ["jan", "feb1", "feb28", "mar"]
    assert set(exported[0]) >= {"at", "key_name", "role", "endpoint", "child_id", "purpose"}
    # each export is itself logged: the first export is the fifth row of the second
    assert exported[4]["endpoint"] == "lantern audit-log"
    assert exported[4]["detail"] == "exported 2 audit rows, 2025-02-01 to 2025-02-28, as csv"
    assert cli_store.audit_rows()[-1].detail.startswith("exported 5 audit rows")


def test_a_formula_sent_as_a_child_id_reaches_the_csv_as_text(sqlite_url, cli_store, tmp_path):
    formulas = {
        "child_id": '=HYPERLINK("http://x.invalid/")',
        "purpose": "=1+1",
        "detail": "@SUM(A1)",
        "key_name": "+cmd",
    }
    cli_store.append_audit(
        AuditEntry(
            endpoint="/prompt", method="POST", outcome="refused", request_id="r1", **formulas
        )
    )
    today = f"{datetime.now(UTC):%Y-%m-%d}"
    done = lantern(sqlite_url, "audit-log", "--since", today)
    assert done.exit_code == 0, done.output
    row = next(csv.DictReader(io.StringIO(done.stdout)))
    assert {k: row[k] for k in formulas} == {k: "'" + v for k, v in formulas.items()}
    assert row["endpoint"] == "/prompt" and row["status"] == ""
    out = tmp_path / "audit.json"
    done = lantern(sqlite_url, "audit-log", "--since", today, "--format", "json", "--out", out)
    assert done.exit_code == 0, done.output
    kept = json.loads(out.read_text())[0]
    assert {k: kept[k] for k in formulas} == formulas  # JSON keeps exactly what was sent


# --------------------------------------------------------------------------- subject access


def test_subject_access_exports_everything_held_about_one_child(
    sqlite_url, cli_store, feature_table, tmp_path
):
    table = pd.read_parquet(feature_table)
    child = str(table["child_id"].value_counts().index[0])
    other = str(table.loc[table["child_id"] != child, "child_id"].iloc[0])
    prompt = cli_store.record_prompt(child_id=child, key_name="asha", prompt={"advisory": True})
    cli_store.record_judgement(prompt.prompt_id, "disagree", key_name="asha", note="known")
    cli_store.record_prompt(child_id=other, key_name="asha", prompt={"advisory": True})
    out = tmp_path / "sar.json"
    done = lantern(
        sqlite_url,
        "subject-access",
        child,
        "--features",
        feature_table,
        "--out",
        out,
        "--purpose",
        "SAR 2025/031",
    )
    assert done.exit_code == 0, done.output
    export = json.loads(out.read_text())
    assert export["schema"] == "lantern.subject_access/1" and export["child_id"] == child
    expected = table[table["child_id"] == child]
    assert len(export["feature_rows"]) == len(expected) >= 1
    assert {r["child_id"] for r in export["feature_rows"]} == {child}
    assert set(export["feature_rows"][0]) == set(table.columns)
    assert [p["prompt_id"] for p in export["prompts"]] == [prompt.prompt_id]
    assert export["prompts"][0]["judgements"][0]["view"] == "disagree"
    # practitioners are not named to the family: one alias per key, addresses dropped
    assert "asha" not in out.read_text()
    assert export["prompts"][0]["key_name"] == "staff member 1"
    assert export["prompts"][0]["judgements"][0]["key_name"] == "staff member 1"
    assert any("judgement notes are practitioners' own words" in n for n in export["notes"])
    # the export is logged, against the child, with its purpose
    logged = cli_store.audit_rows(child_id=child)
    assert [(r.endpoint, r.purpose) for r in logged] == [("lantern subject-access", "SAR 2025/031")]
    # and a second export shows the first
    again = json.loads(lantern(sqlite_url, "subject-access", child).stdout)
    assert [r["endpoint"] for r in again["audit_rows"]] == ["lantern subject-access"]
    assert {r["key_name"] for r in again["audit_rows"]} == {"an administrator"}
    assert again["feature_rows"] is None
    assert any("were not searched" in n for n in again["notes"])
    kept = json.loads(lantern(sqlite_url, "subject-access", child, "--staff-names").stdout)
    assert kept["prompts"][0]["judgements"][0]["key_name"] == "asha"


def test_subject_access_refuses_a_table_without_child_id(sqlite_url, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,x\n1,2\n")
    done = lantern(sqlite_url, "subject-access", "C1", "--features", bad)
    assert done.exit_code == 2 and "has no child_id column" in done.output


# --------------------------------------------------------------------------- retention


def test_retention_dry_run_then_apply_with_the_policy_from_config(sqlite_url, cli_store, tmp_path):
    now = datetime.now(UTC)
    old = cli_store.record_prompt(
        child_id="C1", key_name="bo", prompt={}, issued_at=months_before(now, 6) - timedelta(days=3)
    )
    young = cli_store.record_prompt(child_id="C1", key_name="bo", prompt={})
    config = tmp_path / "store.yaml"
    config.write_text("retention:\n  prompts_months: 6\n")
    dry = lantern(sqlite_url, "retention", "--config", config)
    assert dry.exit_code == 0 and "1 rows would be removed" in dry.stdout
    assert cli_store.get_prompt(old.prompt_id)
    done = lantern(sqlite_url, "retention", "--apply", "--config", config)
    assert done.exit_code == 0 and "removed 1 rows" in done.stdout
    with pytest.raises(LookupError):
        cli_store.get_prompt(old.prompt_id)
    assert cli_store.get_prompt(young.prompt_id)
    assert [r["rows"] for r in retention_log_rows(cli_store)] == [0, 1, 0, 0]


# --------------------------------------------------------------------------- subprocesses


def test_a_key_issued_by_the_real_command_opens_the_service(sqlite_url, tmp_path):
    env = {"PATH": "/usr/bin:/bin", DATABASE_URL_VARIABLE: sqlite_url, "OMP_WAIT_POLICY": "PASSIVE"}
    done = subprocess.run(
        [LANTERN, "keys", "create", "--role", "auditor", "--name", "ethics.board"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()

    async def audit_log_page(request):
        return JSONResponse({"rows": []})

    # no key cache, so the revocation below applies at once (as it does after 10 s by default)
    store = Store(StoreSettings(url=sqlite_url, key_cache_seconds=0))
    service = AuditMiddleware(Starlette(routes=[Route("/audit_log", audit_log_page)]), store=store)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        assert call(service, "GET", "/audit_log", headers=headers).status_code == 200
        assert lantern(sqlite_url, "keys", "revoke", "ethics.board").exit_code == 0
        assert call(service, "GET", "/audit_log", headers=headers).status_code == 401
        bad = subprocess.run(
            [LANTERN, "audit-log", "--since", "yesterday"], capture_output=True, text=True, env=env
        )
        assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stdout
        assert [(r.endpoint, r.status) for r in store.audit_rows()] == [
            ("lantern keys create", None),
            ("/audit_log", 200),
            ("lantern keys revoke", None),
            ("/audit_log", 401),
        ]
    finally:
        store.close()
