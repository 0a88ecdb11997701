"""Worker processes switch to a new state together, or not at all (serving.fleet).

Each test starts real worker processes over one board folder. A worker's state is the text
of a "champion" file at the moment it loaded, so a test promotes by rewriting the file.
Nothing here is timed: a test reads each worker's reply, and a leader that waited too long
replies with the ReloadFailed it raised after its patience (``PATIENCE``), well within the
time the test waits for a reply (``REPLY_PATIENCE``).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

import psutil
import pytest

from serving.fleet import Board, Fleet

PATIENCE = 60
"""Seconds a worker leading a reload waits for the others to be ready (a bound for a busy
two-core machine, not a claim about speed)."""
REPLY_PATIENCE = 2 * PATIENCE
"""Seconds the test waits for a worker's reply: longer than ``PATIENCE``, so a leader that
gave up on a worker replies with its error instead of leaving the test without an answer."""


def _worker(
    board_dir: str, champion: str, inbox, outbox, patience: float, planned: bool = False
) -> None:
    def load() -> str:
        text = Path(champion).read_text()
        if Path(f"{champion}.fail-{os.getpid()}").exists():
            raise RuntimeError(f"cannot load {text}")
        return text

    board = Board(Path(board_dir))
    plans = {"plan_of": str, "load_plan": str} if planned else {}
    fleet = Fleet(board, load, load(), poll_seconds=0.02, patience_seconds=patience, **plans)
    outbox.put(("started", None))
    while True:
        command = inbox.get()
        if command == "stop":
            fleet.close()
            return
        try:
            if command == "pid":
                outbox.put(("pid", os.getpid()))
            elif command == "state":
                outbox.put(("state", fleet.state))
            elif command == "reload":
                swapped = fleet.reload()
                outbox.put(("reloaded", swapped))
            elif command == "reload-nowait":
                outbox.put(("reloaded", fleet.reload(wait=False)))
        except Exception as err:
            outbox.put(("error", f"{type(err).__name__}: {err}"))


class Workers:
    """Worker processes on one board, each driven through its own queues."""

    def __init__(self, folder: Path, n: int, planned: bool = False) -> None:
        ctx = mp.get_context("fork")
        self.champion = folder / "champion"
        self.champion.write_text("v1")
        self.board = folder / "board"
        self.queues = [(ctx.Queue(), ctx.Queue()) for _ in range(n)]
        self.processes = [
            ctx.Process(
                target=_worker,
                args=(str(self.board), str(self.champion), i, o, PATIENCE, planned),
            )
            for i, o in self.queues
        ]
        for p in self.processes:
            p.start()
        for _, outbox in self.queues:
            assert outbox.get(timeout=REPLY_PATIENCE)[0] == "started"

    def ask(self, k: int, command: str):
        self.queues[k][0].put(command)
        return self.queues[k][1].get(timeout=REPLY_PATIENCE)

    def states(self) -> list[str]:
        return [self.ask(k, "state")[1] for k in range(len(self.processes))]

    def stop(self) -> None:
        for inbox, _ in self.queues:
            inbox.put("stop")
        for p in self.processes:
            p.join(REPLY_PATIENCE)


@pytest.fixture
def workers(tmp_path):
    fleet = Workers(tmp_path, 3)
    yield fleet
    fleet.stop()


def test_a_reload_switches_every_worker_before_it_returns(workers):
    assert workers.states() == ["v1", "v1", "v1"]
    workers.champion.write_text("v2")
    assert workers.states() == ["v1", "v1", "v1"], "nothing switches before a reload"

    kind, swapped = workers.ask(1, "reload")

    assert (kind, swapped) == ("reloaded", ("v1", "v2"))
    assert workers.states() == ["v2", "v2", "v2"]
    board = Board(workers.board)
    assert board.read("switch") == board.read("target") == 1


def test_a_worker_that_cannot_load_stops_the_switch_everywhere(workers):
    leader, other = (workers.ask(k, "pid")[1] for k in (0, 2))
    fail = {pid: Path(f"{workers.champion}.fail-{pid}") for pid in (leader, other)}

    workers.champion.write_text("v2")
    fail[leader].touch()
    assert workers.ask(0, "reload") == ("error", "RuntimeError: cannot load v2")
    assert workers.states() == ["v1", "v1", "v1"]

    fail[leader].unlink()
    fail[other].touch()
    kind, message = workers.ask(0, "reload")
    assert kind == "error"
    assert message == (
        f"ReloadFailed: worker {other} could not load the new models: RuntimeError: cannot load v2"
    )
    assert workers.states() == ["v1", "v1", "v1"], "one worker failed, so none switched"

    fail[other].unlink()
    workers.champion.write_text("v3")
    assert workers.ask(2, "reload") == ("reloaded", ("v1", "v3"))
    assert workers.states() == ["v3", "v3", "v3"]


def test_followers_load_the_leaders_plan_not_what_they_would_find(tmp_path):
    """With plans, a follower loads exactly what the leader loaded: here the followers could
    not read the registry themselves (their loads fail), and still switch to the leader's."""
    workers = Workers(tmp_path, 3, planned=True)
    try:
        workers.champion.write_text("v2")
        for k in (1, 2):
            Path(f"{workers.champion}.fail-{workers.ask(k, 'pid')[1]}").touch()
        assert workers.ask(0, "reload") == ("reloaded", ("v1", "v2"))
        assert workers.states() == ["v2", "v2", "v2"]
        assert (workers.board / "plan").read_text() == "1\nv2"
    finally:
        workers.stop()


def test_a_dead_worker_does_not_hold_up_a_reload(workers, tmp_path):
    board = Board(workers.board)
    dead = 999999999  # a worker that no longer exists, so it can never be ready
    assert not psutil.pid_exists(dead)
    board.write(f"ready-{dead}", 0)
    workers.champion.write_text("v2")
    # A leader that waited for it would give up after PATIENCE and reply with a ReloadFailed
    # ("workers [999999999] did not load the new models within ..."), not with a success.
    assert workers.ask(0, "reload") == ("reloaded", ("v1", "v2"))
    assert workers.states() == ["v2", "v2", "v2"]
    assert not (workers.board / f"ready-{dead}").exists(), "the dead worker left the board"
    assert dead not in board.workers()


def test_a_reload_that_would_wait_for_another_leader_does_not(tmp_path):
    board = Board(tmp_path / "board")
    fleet = Fleet(board, lambda: "v2", "v1", poll_seconds=0.02)
    try:
        with board.leader(wait=True):
            assert fleet.reload(wait=False) is None
        assert fleet.reload(wait=False) == ("v1", "v2")
        assert fleet.state == "v2"
    finally:
        fleet.close()


def test_the_board_folder_is_made_private(tmp_path):
    board = Board(tmp_path / "lantern-0" / "serve-1-2")
    assert board.folder.stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "lantern-0").stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("made", ["writable by others", "a link", "its base writable"])
def test_a_board_folder_others_could_write_is_refused(tmp_path, made):
    folder = tmp_path / "lantern-0" / "serve-1-2"
    if made == "writable by others":
        folder.mkdir(parents=True)
        folder.chmod(0o777)
    elif made == "a link":
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        folder.parent.mkdir(mode=0o700)
        folder.symlink_to(tmp_path / "elsewhere")
    else:
        folder.parent.mkdir(mode=0o700)
        folder.parent.chmod(0o733)
    with pytest.raises(PermissionError, match="is not private to this user") as refused:
        Board(folder)
    assert "set run_dir to a folder only this user can write" in str(refused.value)
