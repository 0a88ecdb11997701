"""Group commit of audit rows and the prompts they answered (access.writer), on SQLite and
PostgreSQL, on the event loop and on a thread."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy.exc import IntegrityError

from access.data_protection import subject_access
from access.records import AuditEntry, Outcome, prompt_record
from access.writer import GroupWriter

PROMPT = {"advisory": True, "models": [{"model": "serious_violence", "reasons": []}]}


def entry(i: int) -> AuditEntry:
    return AuditEntry(
        endpoint="/prompt",
        method="POST",
        outcome=Outcome.allowed,
        request_id=f"req-{i}",
        status=200,
        key_name="asha",
        role="practitioner",
        child_id=f"C{i}",
        purpose="team around the child meeting",
    )


def record(i: int, prompt_id: str | None = None):
    return prompt_record(
        child_id=f"C{i}", key_name="asha", prompt=PROMPT, prompt_id=prompt_id or str(uuid.uuid4())
    )


@pytest.fixture(params=["loop", "thread"])
def writer(request, store):
    w = GroupWriter(store, on_loop=request.param == "loop")
    yield w
    w.close()


def test_concurrent_requests_share_commits_and_each_gets_its_own_row(writer, store):
    async def all_at_once():
        return await asyncio.gather(*(writer.write(entry(i), [record(i)]) for i in range(40)))

    rows = asyncio.run(all_at_once())

    assert [r.request_id for r in rows] == [f"req-{i}" for i in range(40)]
    assert len({r.id for r in rows}) == 40
    assert writer.commits < 40, "the 40 rows were not grouped"
    stored = store.audit_rows()
    assert sorted(r.request_id for r in stored) == sorted(f"req-{i}" for i in range(40))
    assert {subject_access(store, f"C{i}")["prompts"][0]["child_id"] for i in range(40)} == {
        f"C{i}" for i in range(40)
    }


def test_a_bad_row_refuses_only_its_own_request(writer, store):
    taken = record(0)
    store.append_audits([], [taken])

    async def with_one_duplicate():
        return await asyncio.gather(
            *(
                writer.write(entry(i), [record(i, taken.prompt_id if i == 3 else None)])
                for i in range(8)
            ),
            return_exceptions=True,
        )

    results = asyncio.run(with_one_duplicate())

    assert isinstance(results[3], IntegrityError)
    assert [r.request_id for i, r in enumerate(results) if i != 3] == [
        f"req-{i}" for i in range(8) if i != 3
    ]
    logged = {r.request_id for r in store.audit_rows()}
    assert "req-3" not in logged, "the refused request's audit row was kept without its prompt"
    assert len(logged) == 7
    assert all(subject_access(store, f"C{i}")["prompts"] for i in range(8) if i != 3)
    assert [p["prompt_id"] for p in subject_access(store, "C3")["prompts"]] == []
