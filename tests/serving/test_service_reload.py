"""A promotion reaches the running service without a restart and without failing a request.

The module has its own partnership (a copy of the session's, so its promotions touch nothing
else), a new ``serious_violence`` challenger trained on it with another seed, and two services
over it: one that only reloads when an analyst calls ``POST /reload``, and one that watches the
registry every second. Client threads keep asking for prompts throughout; every answer is kept.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import psutil
import pytest
from service_fixtures import (
    SEED,
    Home,
    LiveService,
    champions,
    copy_home,
    promote_version,
    train_challenger,
)

from serving.middleware import MODEL_VERSIONS_HEADER
from serving.store import parse_model_versions

MODEL = "serious_violence"
PURPOSE = "checking the service during a promotion"
REASON = "test: the partnership is too small for the fairness gate"
PATIENCE = 120
"""Seconds to wait for something that should happen much sooner (a bound, not a claim)."""


@dataclass
class Fleet:
    """The module's partnership, its two model versions and its two services."""

    home: Home
    versions: tuple[str, str]
    polled: LiveService
    watching: LiveService

    def other_version(self) -> str:
        """The ``MODEL`` version that is not the champion now."""
        (other,) = set(self.versions) - {champions(self.home)[MODEL]}
        return other


@pytest.fixture(scope="module")
def fleet(service_home, tmp_path_factory):
    home = copy_home(service_home, tmp_path_factory.mktemp("reload") / "home")
    original = champions(home)[MODEL]
    polled, watching = LiveService(home), LiveService(home, watch_seconds=1)
    try:
        with ThreadPoolExecutor(2) as pool:
            started = [pool.submit(s.start) for s in (polled, watching)]
            challenger = train_challenger(home, MODEL, seed=SEED + 1)
            for future in started:
                future.result()
        yield Fleet(home, (original, challenger), polled, watching)
    finally:
        polled.stop()
        watching.stop()


@dataclass
class Answer:
    started: float
    ended: float
    status: int | str
    versions: dict[str, str]


@dataclass
class Load:
    """Client threads asking ``service`` for a prompt, one request after another, until
    stopped; every answer (or transport error) is kept."""

    service: LiveService
    threads: int = 2
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers = [threading.Thread(target=self._ask, args=(i,)) for i in range(self.threads)]

    def __enter__(self) -> Load:
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join()

    def _ask(self, i: int) -> None:
        child = self.service.home.child_ids[i]
        headers = self.service.headers("practitioner")
        with httpx.Client(base_url=self.service.url, timeout=PATIENCE) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    response = client.post(
                        "/prompt", json={"child_id": child, "purpose": PURPOSE}, headers=headers
                    )
                    status = response.status_code
                    versions = parse_model_versions(response.headers.get(MODEL_VERSIONS_HEADER))
                except httpx.HTTPError as err:
                    status, versions = f"{type(err).__name__}: {err}", {}
                with self._lock:
                    self.answers.append(Answer(started, time.monotonic(), status, versions))

    def since(self, moment: float) -> list[Answer]:
        """Answers to requests sent after ``moment``."""
        with self._lock:
            return [a for a in self.answers if a.started > moment]

    def wait_for(self, predicate, what: str) -> None:
        deadline = time.monotonic() + PATIENCE
        while not predicate():
            assert time.monotonic() < deadline, f"waited {PATIENCE} s for {what}"
            assert all(w.is_alive() for w in self._workers), "a client thread died"
            time.sleep(0.05)

    def wait_for_answers_after(self, moment: float, n: int = 3) -> None:
        self.wait_for(lambda: len(self.since(moment)) >= n, f"{n} answers")


def worker_pids(service: LiveService) -> set[int]:
    """The service's processes: the ``bentoml serve`` parent and its workers."""
    parent = psutil.Process(service.process.pid)
    return {parent.pid, *(p.pid for p in parent.children(recursive=True))}


def served_versions(service: LiveService) -> dict[str, str]:
    response = httpx.get(
        f"{service.url}/model_card", headers=service.headers("auditor"), timeout=PATIENCE
    )
    assert response.status_code == 200, response.text
    return parse_model_versions(response.headers[MODEL_VERSIONS_HEADER])


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not predicate():
        assert time.monotonic() < deadline, f"waited {PATIENCE} s for {what}"
        time.sleep(0.2)


def test_post_reload_serves_a_promotion_without_a_restart_or_a_failed_request(fleet):
    service, home = fleet.polled, fleet.home
    before = champions(home)
    assert served_versions(service) == before
    processes = worker_pids(service)
    with Load(service) as load:
        load.wait_for_answers_after(0)
        promote_version(home, MODEL, fleet.other_version(), reason=REASON)
        promoted = time.monotonic()
        load.wait_for_answers_after(promoted)
        sent = time.monotonic()
        reload = httpx.post(
            f"{service.url}/reload", headers=service.headers("analyst"), timeout=PATIENCE
        )
        reloaded = time.monotonic()
        load.wait_for_answers_after(reloaded)
    after = champions(home)

    assert after[MODEL] != before[MODEL]
    assert reload.status_code == 200, reload.text
    assert reload.json()["reloaded"] is True
    assert (reload.json()["previous"], reload.json()["serving"]) == (before, after)
    assert parse_model_versions(reload.headers[MODEL_VERSIONS_HEADER]) == after

    assert [a.status for a in load.answers if a.status != 200] == []
    in_flight = [a for a in load.answers if a.started < reloaded and a.ended > sent]
    assert in_flight, "no request was in flight during the reload"
    promoted_not_reloaded = [a for a in load.answers if promoted < a.started and a.ended < sent]
    assert len(promoted_not_reloaded) >= 3
    assert all(a.versions == before for a in load.answers if a.ended < sent)
    assert all(a.versions == after for a in load.answers if a.started > reloaded)
    assert {tuple(a.versions.items()) for a in in_flight} <= {
        tuple(before.items()),
        tuple(after.items()),
    }
    assert worker_pids(service) == processes
    assert served_versions(service) == after


def test_the_registry_watch_serves_a_promotion_by_itself(fleet):
    service, home = fleet.watching, fleet.home
    wait_until(lambda: served_versions(service) == champions(home), "the watch to catch up")
    before = champions(home)
    processes = worker_pids(service)
    rows = service.audit_rows()
    last_row = rows[-1]["id"] if rows else 0
    with Load(service) as load:
        load.wait_for_answers_after(0)
        promote_version(home, MODEL, fleet.other_version(), reason=REASON)
        after = champions(home)
        load.wait_for(
            lambda: any(a.versions == after for a in load.answers), "the new champion's answers"
        )
        first_new = min(a.ended for a in load.answers if a.versions == after)
        load.wait_for_answers_after(first_new)

    assert after[MODEL] != before[MODEL]
    assert [a.status for a in load.answers if a.status != 200] == []
    assert {tuple(a.versions.items()) for a in load.answers} == {
        tuple(before.items()),
        tuple(after.items()),
    }
    assert all(a.versions == after for a in load.answers if a.started > first_new)
    assert worker_pids(service) == processes
    new_rows = [r for r in service.audit_rows() if r["id"] > last_row]
    assert [r["endpoint"] for r in new_rows] == ["/prompt"] * len(load.answers)
