"""Stopping bulk access: per-key request limits, an alert on sweeps of many children, and a
count (not a row each) of unauthenticated refusals beyond a few per address.

Settings are :class:`LimitSettings` (``limits:`` in the store settings YAML); the counting is
:class:`Limiter`, pure and in memory, with a clock the caller gives. Each worker process of the
service counts the requests it answers and allows its share of each limit (the limit divided
by the number of workers, rounded up), so however a caller spreads requests over the workers
the service as a whole allows at most about the limit; a caller on one connection reaches one
worker and gets its share only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["KeyLimits", "LimitSettings", "Limiter", "Verdict"]


class KeyLimits(BaseModel):
    """The limits of one role, or of one key by name.

    Attributes
    ----------
    per_minute : int
        Requests a key may make in one clock minute.
    per_day : int
        Requests a key may make in one UTC day.
    children_per_hour : int
        Distinct children a key may ask about in one clock hour before an alert is written
        to the audit log (the requests are still answered: a practitioner may have a reason).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    per_minute: int = Field(120, ge=1)
    per_day: int = Field(5_000, ge=1)
    children_per_hour: int = Field(60, ge=1)


def _role_defaults() -> dict[str, KeyLimits]:
    return {
        "practitioner": KeyLimits(per_minute=120, per_day=2_000, children_per_hour=40),
        "analyst": KeyLimits(per_minute=240, per_day=10_000, children_per_hour=400),
        "auditor": KeyLimits(per_minute=240, per_day=10_000, children_per_hour=400),
    }


class LimitSettings(BaseModel):
    """Request limits per role, with overrides for named keys.

    Attributes
    ----------
    roles : dict of str to KeyLimits
        Each role's limits (a role left out gets :class:`KeyLimits`' defaults).
    keys : dict of str to KeyLimits
        Limits of particular keys, by key name, in place of their role's.
    unauthenticated_rows_per_minute : int
        Refusals of requests without a valid key written one row each, per client address
        and minute; beyond this they are counted, and one row gives the count.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    roles: dict[str, KeyLimits] = Field(default_factory=_role_defaults)
    keys: dict[str, KeyLimits] = Field(default_factory=dict)
    unauthenticated_rows_per_minute: int = Field(10, ge=0)

    def for_key(self, name: str, role: str) -> KeyLimits:
        """The limits that apply to the key ``name`` of ``role``."""
        return self.keys.get(name) or self.roles.get(role) or KeyLimits()


@dataclass(frozen=True)
class Verdict:
    """Whether a request may go on; if not, why and when to try again.

    Attributes
    ----------
    allowed : bool
    detail : str
        What to do, when refused.
    retry_after : int
        Seconds until the window that refused it ends.
    """

    allowed: bool
    detail: str = ""
    retry_after: int = 0


@dataclass
class _Window:
    start: int = -1
    count: int = 0
    children: set[str] = field(default_factory=set)
    alerted: bool = False


class Limiter:
    """Counts requests per key and unauthenticated refusals per address, in fixed windows.

    Parameters
    ----------
    settings : LimitSettings
    clock : callable
        Seconds since the epoch (UTC); :func:`time.time` in the service, a test's own clock in
        tests.
    share : int
        How many processes share the limits (each allows ``ceil(limit / share)``).
    """

    def __init__(self, settings: LimitSettings, clock: Callable[[], float], share: int = 1) -> None:
        self.settings = settings
        self.clock = clock
        self.share = max(1, share)
        self._minute: dict[str, _Window] = {}
        self._day: dict[str, _Window] = {}
        self._hour: dict[str, _Window] = {}
        self._anonymous: dict[str, _Window] = {}
        self._swept = -1

    def _part(self, limit: int) -> int:
        return math.ceil(limit / self.share)

    @staticmethod
    def _window(table: dict[str, _Window], key: str, start: int) -> _Window:
        window = table.get(key)
        if window is None or window.start != start:
            window = table[key] = _Window(start)
        return window

    def admit(self, name: str, role: str) -> Verdict:
        """Count one request by the key ``name``; refuse it past the minute's or day's limit.

        A refused request is not counted, so a caller who waits gets the next window whole.
        """
        limits = self.settings.for_key(name, role)
        now = self.clock()
        minute = self._window(self._minute, name, int(now // 60))
        day = self._window(self._day, name, int(now // 86_400))
        if day.count >= self._part(limits.per_day):
            return Verdict(
                False,
                f"this key has made its {limits.per_day:,} requests for today (UTC); it may "
                "make more tomorrow. If your work needs more, ask your Lantern administrator "
                "to raise the key's daily quota",
                retry_after=int((day.start + 1) * 86_400 - now) + 1,
            )
        if minute.count >= self._part(limits.per_minute):
            return Verdict(
                False,
                f"this key has made {limits.per_minute:,} requests this minute, its limit; "
                "wait for the next minute (see Retry-After), and ask one child at a time",
                retry_after=int((minute.start + 1) * 60 - now) + 1,
            )
        minute.count += 1
        day.count += 1
        return Verdict(True)

    def child_asked(self, name: str, role: str, child_id: str) -> int | None:
        """Note that the key ``name`` asked about ``child_id``; the number of distinct children
        it asked about this hour when that first passes its threshold (alert once), else None."""
        limits = self.settings.for_key(name, role)
        hour = self._window(self._hour, name, int(self.clock() // 3_600))
        hour.children.add(child_id)
        seen = len(hour.children)
        if not hour.alerted and seen > self._part(limits.children_per_hour):
            hour.alerted = True
            return seen * self.share
        return None

    def threshold(self, name: str, role: str) -> int:
        """The distinct-children threshold of the key ``name``."""
        return self.settings.for_key(name, role).children_per_hour

    def log_unauthenticated(self, client: str) -> bool:
        """Whether this unauthenticated refusal from ``client`` gets its own audit row (the
        first few per minute do; the rest are counted for :meth:`due_counts`)."""
        window = self._window(self._anonymous, client, int(self.clock() // 60))
        window.count += 1
        return window.count <= self.settings.unauthenticated_rows_per_minute

    def due_counts(self) -> list[tuple[str, int, int]]:
        """``(client, minute start in epoch seconds, refusals not written one by one)`` for each
        finished minute with uncounted refusals; each is returned once."""
        current = int(self.clock() // 60)
        if current == self._swept:
            return []
        self._swept = current
        due = []
        for client, window in list(self._anonymous.items()):
            if window.start < current:
                extra = window.count - self.settings.unauthenticated_rows_per_minute
                if extra > 0:
                    due.append((client, window.start * 60, extra))
                del self._anonymous[client]
        return due

    def pending_counts(self) -> bool:
        """Whether any minute has refusals still to be counted in a row."""
        limit = self.settings.unauthenticated_rows_per_minute
        return any(w.count > limit for w in self._anonymous.values())
