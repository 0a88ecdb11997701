"""What the xdist workers build once per test session and share (imported by name, as
``conftest`` is not)."""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest


def built_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """The folder ``name``, filled by ``build(folder)`` once per test session.

    Under pytest-xdist every worker has its own base temporary folder inside the session's;
    the folder lives in the session's, so the workers share it. The first to get the lock
    builds it and marks it complete; any other waits on the lock (not on a delay) and then
    finds it complete. A build that failed leaves no mark, so the next one starts over.
    Callers must not change the folder: copy it first.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    shared = root / "built-once"
    shared.mkdir(exist_ok=True)
    folder, complete = shared / name, shared / f"{name}.complete"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not complete.exists():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
                build(folder)
                complete.touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return folder


def pickled_once(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[], object]):
    """``make()``, made once per session (:func:`built_once`) and read back from a pickle by
    every other worker; the maker's own worker keeps the object it made."""
    made = []

    def build(folder: Path) -> None:
        made.append(make())
        (folder / "value.pickle").write_bytes(pickle.dumps(made[0], pickle.HIGHEST_PROTOCOL))

    folder = built_once(tmp_path_factory, name, build)
    return made[0] if made else pickle.loads((folder / "value.pickle").read_bytes())
