"""Keeping every worker process of one service on the same models.

``bentoml serve`` runs the service in several worker processes, each with its own loaded
state. A promotion must reach them together: ``POST /reload`` answers only once every worker
can serve the new champions, and once any worker answers from them, every request that
starts afterwards, in any worker, is answered from them too.

The workers agree through a few small files in a folder private to one server (named after
the ``bentoml serve`` process, the workers' parent), in two phases:

1. **prepare**: the worker that saw the promotion (the one that got ``POST /reload``, or the
   first whose registry watch noticed it) becomes the leader, under a file lock, loads the new
   state, writes what it loaded to ``plan`` (e.g. the exact model versions, their files'
   hashes and the snapshot) and generation *n + 1* to ``target``. Every worker, polling
   ``target``, loads that plan beside the state it serves (not whatever the registry says by
   then) and writes *n + 1* to its ``ready-<pid>`` file (or the error to ``failed-<pid>``);
2. **switch**: once every live worker is ready, the leader writes *n + 1* to ``switch``. Each
   worker looks at ``switch`` (one ``stat``) before each request and swaps in the state it
   prepared. If a worker could not load the new state, nothing switches and the leader
   reports why.

Every file is written whole (a temporary file renamed over it), so a reader never sees half.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import psutil

__all__ = ["Board", "Fleet", "ReloadFailed", "default_board_folder", "private_folder"]

State = TypeVar("State")


class ReloadFailed(RuntimeError):
    """A worker could not load the new state (or did not answer in time): nothing switched."""


def default_board_folder() -> Path:
    """A folder shared by the workers of this ``bentoml serve`` and no other server (named
    after the parent process and the moment it started, so a reused process id starts clean),
    inside a folder private to this user (``<tmp>/lantern-<uid>``, 0700)."""
    parent = psutil.Process(os.getppid())
    base = Path(tempfile.gettempdir()) / f"lantern-{os.getuid()}"
    return base / f"serve-{parent.pid}-{parent.create_time():.0f}"


def private_folder(folder: Path) -> Path:
    """``folder`` (and any missing parents) created 0700, or checked to be private already.

    Whoever can write the board can make every worker reload or switch, so a folder that is a
    symbolic link, belongs to another user, or that others may write to is refused.

    Raises
    ------
    PermissionError
        Saying which folder and what to do.
    """
    folder = Path(folder)
    for path in (*reversed(folder.parents), folder):
        if not path.exists():
            path.mkdir(mode=0o700, exist_ok=True)
    for path in (folder, *folder.parents):
        if path == folder or path.name.startswith("lantern-"):
            info = path.lstat()
            if path.is_symlink() or info.st_uid != os.getuid() or info.st_mode & 0o022:
                raise PermissionError(
                    f"the workers' folder {path} is not private to this user (a link, another "
                    "user's, or writable by others): remove it, or set run_dir to a folder "
                    "only this user can write"
                )
    return folder


class Board:
    """The files through which one server's workers agree on a generation."""

    def __init__(self, folder: Path) -> None:
        self.folder = private_folder(folder)
        self._switch_seen: int | None = None
        self._switch_value = 0

    def read(self, name: str) -> int:
        """The generation in file ``name`` (0 if there is none yet)."""
        try:
            return int((self.folder / name).read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def write(self, name: str, value: int | str) -> None:
        """Replace file ``name`` whole."""
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{name}.")
        with os.fdopen(fd, "w") as out:
            out.write(str(value))
        os.replace(tmp, self.folder / name)

    def remove(self, name: str) -> None:
        """Remove file ``name`` if it is there."""
        with contextlib.suppress(FileNotFoundError):
            (self.folder / name).unlink()

    def switched(self) -> int:
        """The generation in ``switch``, re-read only when the file changed (one ``stat``)."""
        try:
            seen = (self.folder / "switch").stat().st_mtime_ns
        except FileNotFoundError:
            return 0
        if seen != self._switch_seen:
            self._switch_seen, self._switch_value = seen, self.read("switch")
        return self._switch_value

    def workers(self) -> dict[int, int]:
        """Live workers' process ids and the generation each has ready (dead ones removed)."""
        found = {}
        for path in self.folder.glob("ready-*"):
            pid = int(path.name.removeprefix("ready-"))
            if psutil.pid_exists(pid):
                found[pid] = self.read(path.name)
            else:
                self.remove(path.name)
        return found

    def failures(self, generation: int) -> dict[int, str]:
        """Workers that could not load ``generation``, with the reason each gave."""
        failed = {}
        for path in self.folder.glob("failed-*"):
            text = path.read_text()
            number, _, reason = text.partition("\n")
            if number.strip() == str(generation):
                failed[int(path.name.removeprefix("failed-"))] = reason
        return failed

    @contextlib.contextmanager
    def leader(self, *, wait: bool) -> Iterator[bool]:
        """Hold the leader's lock (yields False if ``wait`` is false and it is taken)."""
        with open(self.folder / "lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class _Prepared(Generic[State]):
    generation: int
    state: State


class Fleet(Generic[State]):
    """One worker's side of the agreement: the state it serves, and the one it prepared.

    Parameters
    ----------
    board : Board
        The server's shared folder.
    load : callable
        Builds a new state (raises if it cannot).
    state : State
        The state this worker starts with.
    plan_of : callable, optional
        What a loaded state is, as text the followers can load exactly (the leader writes
        it to ``plan``).
    load_plan : callable, optional
        Builds the state a plan names. Without ``plan_of`` and ``load_plan``, followers
        call ``load`` themselves.
    poll_seconds : float
        How often a follower looks for a new target.
    patience_seconds : float
        How long a leader waits for every worker to be ready.
    """

    def __init__(
        self,
        board: Board,
        load: Callable[[], State],
        state: State,
        *,
        plan_of: Callable[[State], str] | None = None,
        load_plan: Callable[[str], State] | None = None,
        poll_seconds: float = 0.05,
        patience_seconds: float = 300.0,
    ) -> None:
        self.board = board
        self.load = load
        self.plan_of = plan_of
        self.load_plan = load_plan
        self.pid = os.getpid()
        self.poll_seconds = poll_seconds
        self.patience_seconds = patience_seconds
        self.generation = board.switched()
        self._state = state
        self._prepared: _Prepared[State] | None = None
        self._failed = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        board.write(f"ready-{self.pid}", self.generation)
        self._thread = threading.Thread(target=self._follow, name="lantern-fleet", daemon=True)
        self._thread.start()

    @property
    def state(self) -> State:
        """The state to answer the next request from (switching first if the fleet has)."""
        switched = self.board.switched()
        if switched != self.generation:
            with self._lock:
                prepared = self._prepared
                if prepared is not None and prepared.generation == switched:
                    self._state, self.generation, self._prepared = prepared.state, switched, None
        return self._state

    def reload(self, *, wait: bool = True) -> tuple[State, State] | None:
        """Lead a reload: load, have every worker prepare, then switch them all.

        Returns the (previous, new) states, or None if ``wait`` is false and another worker
        is leading one.

        Raises
        ------
        ReloadFailed
            If a worker could not load the new state or did not answer in time.
        Exception
            Whatever ``load`` raised in this worker (nothing is switched).
        """
        with self.board.leader(wait=wait) as leading:
            if not leading:
                return None
            generation = max(self.board.read("target"), self.board.switched()) + 1
            state = self.load()
            with self._lock:
                self._prepared = _Prepared(generation, state)
            if self.plan_of is not None:
                self.board.write("plan", f"{generation}\n{self.plan_of(state)}")
            self.board.write("target", generation)
            self.board.write(f"ready-{self.pid}", generation)
            self._wait_for_workers(generation)
            before = self._state
            self.board.write("switch", generation)
            with self._lock:
                self._state, self.generation, self._prepared = state, generation, None
            return before, state

    def close(self) -> None:
        """Stop following and leave the board."""
        self._stop.set()
        self.board.remove(f"ready-{self.pid}")

    # ------------------------------------------------------------------ followers

    def _wait_for_workers(self, generation: int) -> None:
        deadline = time.monotonic() + self.patience_seconds
        while True:
            failed = self.board.failures(generation)
            if failed:
                pid, reason = next(iter(failed.items()))
                raise ReloadFailed(f"worker {pid} could not load the new models: {reason}")
            behind = [p for p, g in self.board.workers().items() if g < generation]
            if not behind:
                return
            if time.monotonic() > deadline:
                raise ReloadFailed(
                    f"workers {behind} did not load the new models within "
                    f"{self.patience_seconds:.0f} s; nothing was switched"
                )
            time.sleep(self.poll_seconds)

    def _load_target(self, target: int) -> State:
        """The state of generation ``target``: the leader's plan, if the fleet plans."""
        if self.load_plan is None:
            return self.load()
        try:
            number, _, plan = (self.board.folder / "plan").read_text().partition("\n")
        except FileNotFoundError:
            number, plan = "", ""
        if number != str(target):
            raise ReloadFailed(f"the leader wrote no plan for generation {target}")
        return self.load_plan(plan)

    def _follow(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            target = self.board.read("target")
            prepared = self._prepared
            if (
                target <= self.generation
                or target == self._failed
                or (prepared and prepared.generation >= target)
            ):
                continue
            try:
                state = self._load_target(target)
            except Exception as err:  # the leader reports it; this worker keeps serving
                self._failed = target
                self.board.write(f"failed-{self.pid}", f"{target}\n{type(err).__name__}: {err}")
                continue
            with self._lock:
                if self.board.read("target") == target:
                    self._prepared = _Prepared(target, state)
            self.board.write(f"ready-{self.pid}", target)
