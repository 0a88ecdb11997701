"""PostgreSQL as a deployment would run it: an owner role creates the schema, the service
logs in with a role that may only read and append. The test starts the real server and tries,
as the service's login, everything that would rewrite the record."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from store_fixtures import PG_USER

from access.config import StoreSettings
from access.integrity import verify_audit_log
from access.records import AuditEntry, Outcome
from access.store import Store

ATTEMPTS = {
    "update a row": "UPDATE audit_log SET purpose = 'routine'",
    "delete a row": "DELETE FROM audit_log",
    "truncate": "TRUNCATE audit_log",
    "replace the trigger function": (
        "CREATE OR REPLACE FUNCTION lantern_audit_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$"
    ),
    "disable the triggers": "ALTER TABLE audit_log DISABLE TRIGGER USER",
    "drop the trigger": "DROP TRIGGER audit_log_append_only ON audit_log",
    "shorten retention": "UPDATE retention_policy SET audit_months = 1",
    "delete the retention log": "DELETE FROM retention_log",
    "change a cohort's children": "UPDATE cohort_children SET child_id = 'C1'",
    "delete a prompt": "DELETE FROM prompts",
    "issue itself a key": (
        "INSERT INTO api_keys (name, key_id, key_hash, role, created_at) "
        "VALUES ('x', 'x', 'x', 'auditor', now())"
    ),
}


@pytest.fixture
def roles(pg_server, tmp_path):
    """A database owned by a new owner role, and a new service role (names are server-wide)."""
    tag = uuid.uuid4().hex[:8]
    owner, service, database = f"owner_{tag}", f"service_{tag}", f"t_{tag}"
    with pg_server.admin() as admin:
        admin.execute(f'CREATE ROLE "{owner}" LOGIN')
        admin.execute(f'CREATE ROLE "{service}" LOGIN')
        admin.execute(f'CREATE DATABASE "{database}" OWNER "{owner}"')

    def url(role: str) -> str:
        return pg_server.url(database).replace(f"{PG_USER}@", f"{role}@")

    secret = tmp_path / "audit.secret"
    as_owner = Store(StoreSettings(url=url(owner), service_login=service, secret_file=secret))
    as_service = Store(StoreSettings(url=url(service), secret_file=secret))
    yield as_owner, as_service, url(service)
    as_owner.close()
    as_service.close()


def test_the_service_login_reads_and_appends_and_can_rewrite_nothing(roles):
    as_owner, as_service, service_url = roles
    token = as_owner.create_key("sam", "practitioner").token  # creates the schema, grants
    assert as_service.verify_key(token).name == "sam"
    as_service.append_audits(
        [
            AuditEntry(
                "/cohort", "POST", Outcome.allowed, "r1", 200, key_name="sam", children=("C7",)
            )
        ]
    )
    prompt = as_service.record_prompt(child_id="C7", key_name="sam", prompt={"reasons": []})
    as_service.record_judgement(prompt.prompt_id, "agree", key_name="sam")

    refused = {}
    raw_url = service_url.replace("postgresql+psycopg://", "postgresql://")
    for what, statement in ATTEMPTS.items():
        with psycopg.connect(raw_url, autocommit=True) as conn:
            try:
                conn.execute(statement)
            except psycopg.errors.InsufficientPrivilege as err:
                refused[what] = str(err).splitlines()[0]
    assert set(refused) == set(ATTEMPTS), f"allowed: {set(ATTEMPTS) - set(refused)}"
    assert "must be owner" in refused["disable the triggers"]
    assert "permission denied" in refused["replace the trigger function"]
    check = verify_audit_log(as_owner)
    assert check.whole and check.rows == 1


def test_a_bad_service_login_name_is_refused_before_any_grant(pg_url):
    store = Store(StoreSettings(url=pg_url, service_login='svc"; DROP TABLE x; --'))
    with pytest.raises(ValueError, match="not a plain PostgreSQL role name"):
        store.list_keys()
    store.close()
