"""Group commit: the audit rows of concurrent requests are written together.

Every request waits for its own audit row to be committed before its answer leaves, so the
cost of a commit is on every request's path. A :class:`GroupWriter` takes every row that is
waiting, writes them (with the prompts they answered) in one transaction with
:meth:`access.store.Store.append_audits`, and then wakes each waiting request. Under load a
commit carries many rows; alone, a request waits for one commit as before.

Where the writing happens depends on the database:

- **SQLite** (a local file; a commit takes a fraction of a millisecond): on the event loop
  itself, once per turn of the loop, for every request that asked during that turn. Handing
  the rows to a thread instead costs more than the commit: measured on two cores, the
  thread's hand-offs of the interpreter lock took about 2 ms of CPU per request and held
  throughput to about 250 prompts/s, against about 400 on the loop (docs/benchmarks.md).
- **any other database** (across a network, where a commit waits on a round trip): on one
  thread, so the event loop never waits for the network.

If a group fails, each of its rows is tried again alone, so one bad row cannot refuse the
answers of the requests beside it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future

from sqlalchemy.engine import make_url

from access.records import AuditEntry, AuditRow, Judgement, PromptRecord
from access.store import Store

__all__ = ["GroupWriter"]

_log = logging.getLogger(__name__)

_STOP = object()


class GroupWriter:
    """Writes audit rows (with the prompts they answered) in group commits.

    Parameters
    ----------
    store : Store
        Where to write.
    on_loop : bool, optional
        Write on the event loop (default for SQLite) rather than on a thread (default for
        other databases).
    max_group : int
        Most requests' rows in one transaction.
    """

    def __init__(self, store: Store, *, on_loop: bool | None = None, max_group: int = 256) -> None:
        self.store = store
        if on_loop is None:
            on_loop = make_url(store.settings.url).get_backend_name() == "sqlite"
        self.on_loop = on_loop
        self.max_group = max_group
        self.commits = 0
        """Transactions committed (for benchmarks and tests)."""
        self._waiting: list[
            tuple[AuditEntry, tuple[PromptRecord | Judgement, ...], asyncio.Future]
        ] = []
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def write(
        self, entry: AuditEntry, records: Sequence[PromptRecord | Judgement] = ()
    ) -> AuditRow:
        """Write one request's audit row with the prompts and judgements it made; return the
        stored row once committed.

        Raises
        ------
        Exception
            Whatever kept the row (and its prompts) from being written.
        """
        if not self.on_loop:
            return await asyncio.wrap_future(self.submit(entry, records))
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._flush)
        self._waiting.append((entry, tuple(records), future))
        return await future

    def submit(
        self, entry: AuditEntry, records: Sequence[PromptRecord | Judgement] = ()
    ) -> Future[AuditRow]:
        """Queue one request's row for the writer thread (from any thread); the future holds
        the stored row, or the error that kept it from being written."""
        future: Future[AuditRow] = Future()
        self._start()
        self._queue.put((entry, tuple(records), future))
        return future

    def close(self, timeout: float = 10.0) -> None:
        """Write what the thread has queued, then stop it."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout)

    # ------------------------------------------------------------------ writing

    def _commit(self, group: list) -> list[tuple[AuditRow | None, BaseException | None]]:
        """Each item's stored row or error: the group in one transaction, else one by one."""
        try:
            rows = self.store.append_audits(
                [entry for entry, _, _ in group],
                [record for _, records, _ in group for record in records],
            )
        except Exception as err:
            if len(group) == 1:
                return [(None, err)]
            _log.warning(
                "a group of %d audit rows failed (%s); writing each alone", len(group), err
            )
        else:
            self.commits += 1
            return [(row, None) for row in rows]
        results: list[tuple[AuditRow | None, BaseException | None]] = []
        for entry, records, _ in group:
            try:
                results.append((self.store.append_audits([entry], records)[0], None))
            except Exception as single:
                results.append((None, single))
            self.commits += 1
        return results

    def _flush(self) -> None:
        while self._waiting:
            group = self._waiting[: self.max_group]
            del self._waiting[: self.max_group]
            live = [item for item in group if not item[2].done()]  # callers that went away
            if live:
                _settle([future for _, _, future in live], self._commit(live))

    def _start(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="lantern-audit-writer", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            group, stop = [item], False
            while len(group) < self.max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                group.append(item)
            live = [item for item in group if item[2].set_running_or_notify_cancel()]
            if live:
                _settle([future for _, _, future in live], self._commit(live))
            if stop:
                return


def _settle(futures: list, results: list[tuple[AuditRow | None, BaseException | None]]) -> None:
    """Give each waiting request its row or its error (an asyncio or a thread future)."""
    for future, (row, error) in zip(futures, results, strict=True):
        if future.done():  # the caller went away meanwhile
            continue
        if error is None:
            future.set_result(row)
        else:
            future.set_exception(error)
