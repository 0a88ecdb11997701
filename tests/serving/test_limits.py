"""Request limits, sweep alerts and counted refusals, in the real middleware over a real store
(SQLite), on a clock the test moves: what is refused, what is written, and when it resets.

The sweep against the real ``bentoml serve`` process is ``tests/security``'s.
"""

from __future__ import annotations

import json

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from store_fixtures import call, call_many

from access.config import StoreSettings
from access.limits import KeyLimits, LimitSettings
from access.store import Store
from serving.middleware import AUDIT_STATE, Answered, AuditMiddleware
from serving.permissions import PERMISSIONS


class Clock:
    """Seconds since the epoch, moved by the test."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start - start % 86_400 + 3_600  # 01:00 UTC: minutes and a day ahead

    def __call__(self) -> float:
        return self.now


async def prompt(request: Request) -> JSONResponse:
    """Names the child it was asked about, as the service does."""
    body = json.loads(await request.body())
    request.state.__setattr__(AUDIT_STATE, Answered(child_id=body["child_id"], purpose="p"))
    return JSONResponse({"child_id": body["child_id"]})


LIMITS = LimitSettings(
    keys={"sam": KeyLimits(per_minute=5, per_day=8, children_per_hour=3)},
    unauthenticated_rows_per_minute=2,
)


def middleware(url: str, clock: Clock, workers: int = 1) -> tuple[AuditMiddleware, Store]:
    store = Store(StoreSettings(url=url, limits=LIMITS))
    app = Starlette(routes=[Route("/prompt", prompt, methods=["POST"])])
    return AuditMiddleware(
        app, store=store, permissions=PERMISSIONS, workers=workers, clock=clock
    ), store


@pytest.fixture
def setup(sqlite_url):
    clock = Clock()
    app, store = middleware(sqlite_url, clock)
    token = store.create_key("sam", "practitioner").token
    yield app, store, clock, {"Authorization": f"Bearer {token}"}
    store.close()


def ask(app, headers, child="C1"):
    return call(app, "POST", "/prompt", json={"child_id": child}, headers=headers)


def test_past_the_minutes_limit_is_429_audited_until_the_next_minute(setup):
    app, store, clock, headers = setup
    answers = [ask(app, headers) for _ in range(7)]
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
    refused = answers[-1]
    assert refused.json()["error"] == "too many requests"
    assert "5 requests this minute" in refused.json()["detail"]
    wait = int(refused.headers["retry-after"])
    assert 1 <= wait <= 61
    rows = store.audit_rows()
    assert [r.status for r in rows] == [200] * 5 + [429] * 2
    assert rows[-1].request_id == refused.headers["x-request-id"]
    assert (rows[-1].outcome, rows[-1].key_name) == ("refused", "sam")
    clock.now += wait
    assert ask(app, headers).status_code == 200, "a refused request is not counted"


def test_past_the_days_quota_is_429_until_tomorrow(setup):
    app, store, clock, headers = setup
    codes = []
    for _ in range(3):
        codes += [ask(app, headers).status_code for _ in range(4)]
        clock.now += 60
    assert codes.count(200) == 8 and codes[-1] == 429
    last = ask(app, headers)
    assert last.status_code == 429 and "for today" in last.json()["detail"]
    clock.now += int(last.headers["retry-after"])
    assert ask(app, headers).status_code == 200


def test_many_distinct_children_in_an_hour_write_one_alert(setup):
    app, store, clock, headers = setup
    for child in ("C1", "C2", "C1", "C3"):
        ask(app, headers, child)
    assert [r for r in store.audit_rows() if r.outcome == "alert"] == []
    ask(app, headers, "C4")
    clock.now += 60
    ask(app, headers, "C5")
    alerts = [r for r in store.audit_rows() if r.outcome == "alert"]
    assert len(alerts) == 1, "one alert per key and hour"
    assert alerts[0].key_name == "sam" and "more than 3 distinct children" in alerts[0].detail
    clock.now += 86_400  # a new hour (and day: the quota is 8)
    for child in ("C6", "C7", "C8", "C9"):
        ask(app, headers, child)
    assert len([r for r in store.audit_rows() if r.outcome == "alert"]) == 2


def test_unauthenticated_refusals_past_a_few_are_counted_in_one_row(setup):
    app, store, clock, _ = setup
    answers = [ask(app, {}) for _ in range(6)]
    assert {a.status_code for a in answers} == {401}
    rows = store.audit_rows()
    assert len(rows) == 2 and all(r.client for r in rows), "the first two, with the address"
    clock.now += 60
    ask(app, {})  # the next minute's first: the last minute's count is written first
    rows = store.audit_rows()
    assert len(rows) == 4
    counted = rows[2]
    assert (counted.method, counted.status, counted.client) == ("COUNT", 401, rows[0].client)
    assert counted.detail.startswith("4 more requests without a valid key")


def test_workers_share_a_keys_limit(sqlite_url):
    clock = Clock()
    app, store = middleware(sqlite_url, clock, workers=2)
    headers = {"Authorization": f"Bearer {store.create_key('sam', 'practitioner').token}"}
    codes = [
        r.status_code
        for r in call_many(
            app, [("POST", "/prompt", {"json": {"child_id": "C1"}, "headers": headers})] * 5
        )
    ]
    assert sorted(codes) == [200] * 3 + [429] * 2, "ceil(5 / 2) in this worker"
    store.close()


# --------------------------------------------------------------------------- timeouts


def test_an_answer_that_never_starts_is_stopped_with_an_audited_504(sqlite_url):
    import anyio

    async def stuck(request: Request) -> JSONResponse:
        await anyio.Event().wait()  # never set: only the middleware's timeout ends this

    store = Store(StoreSettings(url=sqlite_url))
    app = AuditMiddleware(
        Starlette(routes=[Route("/prompt", stuck, methods=["POST"])]),
        store=store,
        permissions=PERMISSIONS,
        timeout=0.2,
    )
    headers = {"Authorization": f"Bearer {store.create_key('sam', 'practitioner').token}"}
    response = call(app, "POST", "/prompt", json={"child_id": "C1"}, headers=headers)
    assert response.status_code == 504
    assert "did not answer within 0.2 seconds" in response.json()["detail"]
    (row,) = store.audit_rows()
    assert (row.status, row.outcome, row.child_id) == (504, "error", "C1")
    assert row.request_id == response.headers["x-request-id"]
    store.close()
