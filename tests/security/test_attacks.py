"""The real ``bentoml serve`` process, tried as a determined user with a valid key would try it
(issue 14): each probe's answer **and** its audit row are checked.

Every probe goes through :func:`probe`, which keeps its request id and status; the module's
last test checks that every probe has its audit row and none was answered 5xx, and prints
the counts (``pytest tests/security -s``).
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from service_fixtures import SWEEPER, TEST_LIMITS

from access.config import StoreSettings
from access.data_protection import retention_log_rows, subject_access
from access.store import Store

PURPOSE = "team around the child meeting"
LANTERN = str(Path(sys.executable).with_name("lantern"))
PROBES: list[tuple[str, str, int]] = []
"""(what, request id, status) of every probe sent."""


@pytest.fixture(scope="module")
def client(live_service):
    with httpx.Client(base_url=live_service.url, timeout=120) as http:
        yield http


@pytest.fixture(scope="module")
def store(service_home):
    store = Store(StoreSettings(url=service_home.database_url))
    yield store
    store.close()


def probe(client, what: str, method: str, path: str, **kwargs) -> httpx.Response:
    response = client.request(method, path, **kwargs)
    PROBES.append((what, response.headers.get("x-request-id", ""), response.status_code))
    return response


def row_of(store: Store, response: httpx.Response):
    """The one audit row of the request ``response`` answers."""
    request_id = response.headers["x-request-id"]
    rows = [r for r in store.audit_rows() if r.request_id == request_id]
    assert len(rows) == 1, f"{len(rows)} audit rows for request {request_id}"
    return rows[0]


def lantern(home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LANTERN, *args, "--database-url", home.database_url],
        capture_output=True,
        text=True,
        env=home.env(COLUMNS="200"),
        timeout=120,
    )


# --------------------------------------------------------------------------- what was served


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"child_id": "C1684694", "purpose": "formtest"}},
        {"files": {"child_id": (None, "C1684694"), "purpose": (None, "formtest")}},
    ],
    ids=["form", "multipart"],
)
def test_a_form_or_multipart_body_is_415_and_its_row_names_no_child(
    client, live_service, store, service_home, body
):
    child = service_home.child_ids[5]
    response = probe(
        client,
        "form body",
        "POST",
        f"/prompt?child_id={child}&purpose=routine",
        headers=live_service.headers("practitioner"),
        **body,
    )
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["detail"]
    row = row_of(store, response)
    assert (row.status, row.outcome, row.key_name) == (415, "refused", "test-practitioner")
    assert row.child_id in (None, child), "at most the query's claim; never the form's child"


def test_the_row_names_the_child_the_answer_is_about_not_the_query(
    client, live_service, store, service_home
):
    asked, claimed = service_home.child_ids[7], service_home.child_ids[8]
    response = probe(
        client,
        "query/body mismatch",
        "POST",
        f"/prompt?child_id={claimed}&purpose=routine",
        json={"child_id": asked, "purpose": PURPOSE},
        headers=live_service.headers("practitioner"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["child_id"] == asked
    row = row_of(store, response)
    assert (row.child_id, row.purpose) == (asked, PURPOSE)
    assert row.model_versions == response.headers["x-lantern-model-versions"]
    assert row.client == "127.0.0.1"


def test_a_200000_bracket_body_is_400_with_a_row(client, live_service, store):
    response = probe(
        client,
        "deep JSON",
        "POST",
        "/prompt",
        content=b"[" * 200_000,
        headers=live_service.headers("practitioner") | {"content-type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["error"] == "request too deeply nested"
    assert row_of(store, response).status == 400


def test_an_oversized_body_is_413_with_a_row(client, live_service, store):
    response = probe(
        client,
        "oversized body",
        "POST",
        "/prompt",
        content=b'{"child_id": "' + b"C" * 2_000_000 + b'"}',
        headers=live_service.headers("practitioner") | {"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert row_of(store, response).status == 413


def test_a_formula_sent_without_a_key_reaches_the_csv_export_as_text(client, store, service_home):
    formula = '=HYPERLINK("http://x.invalid/")'
    response = probe(
        client, "formula", "POST", "/prompt", json={"child_id": formula, "purpose": "=1+1"}
    )
    assert response.status_code == 401
    assert row_of(store, response).child_id == formula, "stored as sent"
    today = f"{datetime.now(UTC):%Y-%m-%d}"
    done = lantern(service_home, "audit-log", "--since", today, "--format", "csv")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    (mine,) = [r for r in rows if r["request_id"] == response.headers["x-request-id"]]
    assert mine["child_id"] == "'" + formula and mine["purpose"] == "'=1+1"


# --------------------------------------------------------------------------- other keys' objects


def test_a_judgement_on_another_keys_prompt_is_refused_and_stores_nothing(
    client, live_service, store, service_home
):
    issued = probe(
        client,
        "prompt to judge",
        "POST",
        "/prompt",
        json={"child_id": service_home.child_ids[9], "purpose": PURPOSE},
        headers=live_service.headers("practitioner"),
    )
    prompt_id = issued.json()["prompt_id"]
    response = probe(
        client,
        "judgement by another key",
        "POST",
        "/judgement",
        json={"prompt_id": prompt_id, "view": "disagree", "note": "not mine"},
        headers=live_service.headers("analyst"),
    )
    assert response.status_code == 404
    nobody = str(uuid.uuid4())
    unknown = probe(
        client,
        "judgement on no prompt",
        "POST",
        "/judgement",
        json={"prompt_id": nobody, "view": "disagree"},
        headers=live_service.headers("analyst"),
    )
    assert unknown.status_code == 404
    assert response.json()["detail"].replace(prompt_id, "X") == unknown.json()["detail"].replace(
        nobody, "X"
    ), "another key's prompt and no prompt get one answer"
    row = row_of(store, response)
    assert (row.status, row.key_name) == (404, "test-analyst")
    assert store.get_prompt(prompt_id).judgements == ()
    mine = probe(
        client,
        "judgement by its own key",
        "POST",
        "/judgement",
        json={"prompt_id": prompt_id, "view": "agree"},
        headers=live_service.headers("practitioner"),
    )
    assert mine.status_code == 200
    (judgement,) = store.get_prompt(prompt_id).judgements
    assert judgement.key_name == "test-practitioner"
    assert row_of(store, mine).child_id == service_home.child_ids[9]


def test_a_record_is_filed_under_a_real_child_only_with_its_source(
    client, live_service, store, service_home
):
    child = service_home.child_ids[10]
    bare = probe(
        client,
        "record as a real child",
        "POST",
        "/prompt_from_record",
        json={"record": {}, "purpose": PURPOSE, "child_id": child},
        headers=live_service.headers("practitioner"),
    )
    assert bare.status_code == 400 and bare.json()["error"] == "record source needed"
    assert row_of(store, bare).status == 400
    stated = probe(
        client,
        "record with its source",
        "POST",
        "/prompt_from_record",
        json={"record": {}, "purpose": PURPOSE, "child_id": child, "source": "school MIS"},
        headers=live_service.headers("practitioner"),
    )
    assert stated.status_code == 200, stated.text
    assert row_of(store, stated).detail == "record from: school MIS"


# --------------------------------------------------------------------------- bulk access


def test_a_cohort_needs_a_purpose_is_capped_and_names_every_child_it_returned(
    client, live_service, store, service_home
):
    headers = live_service.headers("analyst")
    bulk = probe(
        client,
        "bulk cohort",
        "POST",
        "/cohort",
        json={"model": "serious_violence", "capacity": 100_000, "purpose": PURPOSE},
        headers=headers,
    )
    assert bulk.status_code == 400 and "team capacity" in bulk.json()["detail"]
    listed = probe(
        client,
        "cohort",
        "POST",
        "/cohort",
        json={"model": "serious_violence", "capacity": 5, "purpose": "weekly triage"},
        headers=headers,
    )
    assert listed.status_code == 200
    children = [c["child_id"] for c in listed.json()["children"]]
    row = row_of(store, listed)
    assert row.purpose == "weekly triage" and len(children) == 5
    held = subject_access(store, children[2])
    assert [(c["audit_row"], c["rank"]) for c in held["cohort_lists"]][-1] == (row.id, 3)


def test_a_sweep_of_2000_ids_is_stopped_by_429_with_an_alert(
    client, live_service, store, service_home
):
    limits = TEST_LIMITS["keys"][f"test-{SWEEPER}"]
    real = service_home.child_ids
    ids = [real[i] if i % 4 == 0 else f"C{9_000_000 + i:07d}" for i in range(2_000)]
    headers = live_service.headers(SWEEPER)

    def sweep(part: list[str]) -> list[httpx.Response]:
        with httpx.Client(base_url=live_service.url, timeout=120) as own:  # own connection
            return [
                probe(
                    own,
                    "sweep",
                    "POST",
                    "/prompt",
                    json={"child_id": c, "purpose": "sweep"},
                    headers=headers,
                )
                for c in part
            ]

    with ThreadPoolExecutor(8) as pool:  # eight connections, spread over the workers
        answers = [a for part in pool.map(sweep, [ids[i::8] for i in range(8)]) for a in part]
    codes = [a.status_code for a in answers]
    assert set(codes) <= {200, 404, 429}
    rows = {r.request_id: r for r in store.audit_rows() if r.key_name == f"test-{SWEEPER}"}
    minutes = {rows[a.headers["x-request-id"]].at.replace(second=0, microsecond=0) for a in answers}
    answered = len(codes) - codes.count(429)
    assert answered <= limits["per_minute"] * len(minutes), (answered, len(minutes))
    assert codes.count(429) >= 2_000 - limits["per_minute"] * len(minutes)
    refused = next(a for a in answers if a.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert rows[refused.headers["x-request-id"]].status == 429
    alerts = [r for r in rows.values() if r.outcome == "alert"]
    assert alerts and f"more than {limits['children_per_hour']} distinct" in alerts[0].detail
    shown = lantern(service_home, "audit-log", "--alerts")
    assert shown.returncode == 0 and f"test-{SWEEPER}" in shown.stdout


# --------------------------------------------------------------------------- the stored log


def test_the_services_log_verifies_and_a_tampered_copy_names_the_row(
    live_service, service_home, tmp_path
):
    source = Path(service_home.database_url.removeprefix("sqlite:///"))
    copy = tmp_path / "copy.db"
    with sqlite3.connect(source) as live, sqlite3.connect(copy) as out:
        live.backup(out)  # a consistent copy while the service writes
    secret = Path(f"{source}.secret")
    whole = lantern(service_home, "audit-log", "verify")
    assert whole.returncode == 0, whole.stdout + whole.stderr
    with sqlite3.connect(copy) as raw:
        (target,) = raw.execute("SELECT id FROM audit_log ORDER BY id LIMIT 1 OFFSET 3").fetchone()
        raw.execute("DROP TRIGGER audit_log_no_update")
        raw.execute("UPDATE audit_log SET purpose = 'routine' WHERE id = ?", (target,))
    done = subprocess.run(
        [LANTERN, "audit-log", "verify", "--database-url", f"sqlite:///{copy}"],
        capture_output=True,
        text=True,
        env=service_home.env(LANTERN_AUDIT_SECRET_FILE=str(secret), COLUMNS="200"),
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"audit row {target} fails its chain check" in done.stdout


def test_the_services_log_holds_no_request_content(live_service, service_home):
    """What the probes sent (children's ids, purposes, a form's fields) is in the audit log
    only: not in the service's own log, whatever was refused or invalid."""
    text = live_service.log.read_text()
    sent = [
        PURPOSE,
        "formtest",
        '=HYPERLINK("http://x.invalid/")',
        "weekly triage",
        *service_home.child_ids[5:11],
        *(f"C{9_000_000 + i:07d}" for i in range(1, 2_000, 97)),
    ]
    assert [s for s in sent if s in text] == []
    assert "key test-sweeper asked about" in text, "the log was read, and names keys only"


def test_the_service_applies_retention_itself(live_service, store):
    deadline = time.monotonic() + 60  # a bound on the wait for the named event, not a claim
    while not (
        runs := [r for r in retention_log_rows(store) if r["operator"] == "lantern service"]
    ):
        assert time.monotonic() < deadline, "the service wrote no retention run in 60 s"
        time.sleep(0.2)
    assert {r["table_name"] for r in runs} >= {"prompts", "judgements", "audit_log"}


# --------------------------------------------------------------------------- the tally


def test_every_probe_was_logged_and_none_was_a_server_error(store):
    logged = {r.request_id for r in store.audit_rows()}
    unlogged = [(what, rid, status) for what, rid, status in PROBES if rid not in logged]
    server_errors = [(what, status) for what, _, status in PROBES if status >= 500]
    print(
        json.dumps(
            {"probes": len(PROBES), "without_audit_row": len(unlogged), "5xx": len(server_errors)}
        )
    )
    assert len(PROBES) > 2_000
    assert unlogged == [] and server_errors == []
