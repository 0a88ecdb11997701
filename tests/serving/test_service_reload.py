"""A promotion reaches the running service without a restart and without failing a request.

The tests use the session's ``fleet`` (``tests/service_fixtures.py``): a copy of the session's
partnership (so its promotions touch nothing else), a new ``serious_violence`` challenger
trained on it with another seed, and two services over it: one that only reloads when an
analyst calls ``POST /reload``, and one that watches the registry every second. Client threads keep asking for prompts throughout; every answer is kept.

Nothing is timed. Answers are ordered by a counter (:class:`Load`), not a clock, and the
tests hold a reload open through the service's own agreement (:mod:`serving.fleet`): the
test joins the service's board as one more live worker (:class:`SwitchHold`), so the leader,
once it has written the new ``target`` (the named event "the reload is under way"), cannot
switch any worker until the test leaves the board. Requests sent in between are provably in
flight during the reload, and must be answered, from the old champions.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from service_fixtures import MODEL, LiveService, champions, promote_version

from access.records import parse_model_versions
from serving.fleet import Board
from serving.middleware import MODEL_VERSIONS_HEADER

PURPOSE = "checking the service during a promotion"
REASON = "test: the partnership is too small for the fairness gate"
PATIENCE = 120
"""Seconds to wait for something that should happen much sooner (a bound, not a claim)."""


@dataclass
class Answer:
    """One request: when it was sent and answered (ticks of :meth:`Load.mark`'s counter),
    and what came back."""

    started: int
    ended: int
    status: int | str
    versions: dict[str, str]


@dataclass
class Load:
    """Client threads asking ``service`` for a prompt, one request after another, until
    stopped; every answer (or transport error) is kept.

    Moments are ticks of one counter shared by the client threads and :meth:`mark`, so
    "sent after" and "answered before" are exact, whatever the machine's load.
    """

    service: LiveService
    threads: int = 2
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._ticks = itertools.count(1)
        self._workers = [threading.Thread(target=self._ask, args=(i,)) for i in range(self.threads)]

    def __enter__(self) -> Load:
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join()

    def mark(self) -> int:
        """A moment: every request sent later has a greater ``started``, every one answered
        earlier a smaller ``ended``."""
        with self._lock:
            return next(self._ticks)

    def _ask(self, i: int) -> None:
        child = self.service.home.child_ids[i]
        headers = self.service.headers("practitioner")
        with httpx.Client(base_url=self.service.url, timeout=PATIENCE) as client:
            while not self._stop.is_set():
                started = self.mark()
                try:
                    response = client.post(
                        "/prompt", json={"child_id": child, "purpose": PURPOSE}, headers=headers
                    )
                    status = response.status_code
                    versions = parse_model_versions(response.headers.get(MODEL_VERSIONS_HEADER))
                except httpx.HTTPError as err:
                    status, versions = f"{type(err).__name__}: {err}", {}
                with self._lock:
                    self.answers.append(Answer(started, next(self._ticks), status, versions))

    def since(self, moment: int) -> list[Answer]:
        """Answers to requests sent after ``moment``."""
        with self._lock:
            return [a for a in self.answers if a.started > moment]

    def wait_for(self, predicate: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + PATIENCE
        while not predicate():
            assert time.monotonic() < deadline, f"waited {PATIENCE} s for {what}"
            assert all(w.is_alive() for w in self._workers), "a client thread died"
            time.sleep(0.05)

    def wait_for_answers_after(self, moment: int, n: int = 3) -> None:
        self.wait_for(lambda: len(self.since(moment)) >= n, f"{n} answers after tick {moment}")


def worker_pids(service: LiveService) -> set[int]:
    """The service's processes: the ``bentoml serve`` parent and its workers."""
    parent = psutil.Process(service.process.pid)
    return {parent.pid, *(p.pid for p in parent.children(recursive=True))}


def board_folder(service: LiveService) -> Path:
    """The folder where ``service``'s workers agree on reloads (serving.fleet's default: a
    ``serve-*`` folder in this user's ``lantern-<uid>`` folder of the temporary directory,
    named after the workers' parent, holding a ``ready-<pid>`` file for each worker)."""
    pids = worker_pids(service)
    found = []
    base = Path(tempfile.gettempdir()) / f"lantern-{os.getuid()}"
    for folder in base.glob("serve-*-*"):
        named_after = folder.name.split("-")[1]
        ready = {p.name.removeprefix("ready-") for p in folder.glob("ready-*")}
        if not named_after.isdigit() or not all(pid.isdigit() for pid in ready):
            continue
        ready = {int(pid) for pid in ready} - {os.getpid()}
        if ready and ready <= pids and int(named_after) in pids:
            found.append(folder)
    assert len(found) == 1, (
        f"expected one board folder of the service (processes {sorted(pids)}) in "
        f"{tempfile.gettempdir()}, found {found}"
    )
    return found[0]


class SwitchHold:
    """The test as one more live worker on ``service``'s board: a reload can load and
    prepare everywhere, but its leader cannot switch until :meth:`release`.

    Used as a context manager; the test always leaves the board on the way out, so no later
    reload waits for it.
    """

    def __init__(self, service: LiveService) -> None:
        self.board = Board(board_folder(service))
        self.name = f"ready-{os.getpid()}"
        self.generation = max(self.board.read("target"), self.board.read("switch"))

    def __enter__(self) -> SwitchHold:
        self.board.write(self.name, self.generation)
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def wait_for_target(self, reload: Future | None = None) -> int:
        """Wait until a leader has written the next generation to ``target`` (the reload is
        under way) and return it."""
        deadline = time.monotonic() + PATIENCE
        while (target := self.board.read("target")) <= self.generation:
            if reload is not None and reload.done():
                response = reload.result()
                raise AssertionError(
                    f"the reload answered before it was under way: "
                    f"{response.status_code} {response.text}"
                )
            assert time.monotonic() < deadline, f"waited {PATIENCE} s for a reload to start"
            time.sleep(0.05)
        failed = self.board.failures(target)
        assert not failed, f"a worker could not load the new models: {failed}"
        return target

    def release(self) -> None:
        """Leave the board: the leader switches every worker as soon as it sees that."""
        self.board.remove(self.name)


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


def same(versions: dict[str, str]) -> tuple:
    return tuple(sorted(versions.items()))


def test_post_reload_serves_a_promotion_without_a_restart_or_a_failed_request(fleet):
    service, home = fleet.polled, fleet.home
    before = champions(home)
    assert served_versions(service) == before
    processes = worker_pids(service)

    def post_reload() -> httpx.Response:
        return httpx.post(
            f"{service.url}/reload", headers=service.headers("analyst"), timeout=PATIENCE
        )

    with Load(service) as load, ThreadPoolExecutor(1) as pool, SwitchHold(service) as hold:
        load.wait_for_answers_after(load.mark())
        promote_version(home, MODEL, fleet.other_version(), reason=REASON)
        promoted = load.mark()
        load.wait_for_answers_after(promoted)
        sent = load.mark()
        reload = pool.submit(post_reload)
        hold.wait_for_target(reload)
        under_way = load.mark()
        load.wait_for_answers_after(under_way)
        assert not reload.done(), "the reload answered although the test held the switch"
        released = load.mark()
        hold.release()
        response = reload.result()
        reloaded = load.mark()
        load.wait_for_answers_after(reloaded)
    after = champions(home)

    assert after[MODEL] != before[MODEL]
    assert response.status_code == 200, response.text
    assert response.json()["reloaded"] is True
    assert (response.json()["previous"], response.json()["serving"]) == (before, after)
    assert parse_model_versions(response.headers[MODEL_VERSIONS_HEADER]) == after

    assert [a.status for a in load.answers if a.status != 200] == []
    promoted_not_reloaded = [a for a in load.answers if promoted < a.started and a.ended < sent]
    assert len(promoted_not_reloaded) >= 3
    in_flight = [a for a in load.answers if under_way < a.started and a.ended < released]
    assert len(in_flight) >= 3, "requests sent while the reload was under way"
    assert all(a.versions == before for a in load.answers if a.ended < released), (
        "nothing switches before every worker is ready"
    )
    assert all(a.versions == after for a in load.answers if a.started > reloaded)
    assert {same(a.versions) for a in load.answers if a.started < reloaded} <= {
        same(before),
        same(after),
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
    with Load(service) as load, SwitchHold(service) as hold:
        load.wait_for_answers_after(load.mark())
        promote_version(home, MODEL, fleet.other_version(), reason=REASON)
        after = champions(home)
        hold.wait_for_target()  # a worker's watch saw the promotion and leads the reload
        under_way = load.mark()
        load.wait_for_answers_after(under_way)
        released = load.mark()
        hold.release()
        load.wait_for(
            lambda: any(a.versions == after for a in load.since(released)),
            "the new champion's answers",
        )
        first_new = min(a.ended for a in load.answers if a.versions == after)
        load.wait_for_answers_after(first_new)

    assert after[MODEL] != before[MODEL]
    assert [a.status for a in load.answers if a.status != 200] == []
    assert {same(a.versions) for a in load.answers} == {same(before), same(after)}
    in_flight = [a for a in load.answers if under_way < a.started and a.ended < released]
    assert len(in_flight) >= 3, "requests sent while the reload was under way"
    assert all(a.versions == before for a in load.answers if a.ended < released), (
        "nothing switches before every worker is ready"
    )
    assert all(a.versions == after for a in load.answers if a.started > first_new)
    assert worker_pids(service) == processes
    new_rows = [r for r in service.audit_rows() if r["id"] > last_row]
    assert [r["endpoint"] for r in new_rows] == ["/prompt"] * len(load.answers)
