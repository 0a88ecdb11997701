"""The partnership overview's result: :class:`Overview`, its settings and its JSON form.

:func:`governance.overview.partnership_overview` computes it; the page
(:mod:`governance.overview_report`) and the JSON render it and compute nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA = "lantern.overview/1"
"""The version of the overview's JSON form."""

GROUPINGS = ("area", "age_band", "sex", "ethnicity", "send")
"""The groupings shown, in order; ``age_band`` is made from ``age_years``."""

AGE_BANDS = ((0, "under 10"), (10, "10-13"), (14, "14-15"), (16, "16-17"), (18, "18+"))
"""Each age band's lowest age (whole years) and label. School phases: lower secondary, GCSE
years, and the two years of the participation age when NEET is measured."""

MISSING = "not recorded"
"""The group of a child whose value is missing."""

REASONS = {
    "group_size": "fewer than {m} children in the group",
    "flagged": "fewer than {m} children flagged",
    "positives": "fewer than {m} children with the recorded outcome",
    "not_yet_known": "the outcome window has not closed yet",
    "no_snapshot": "no snapshot on that date",
}
"""Every suppression (or absence) reason code, with its plain meaning (``m`` the minimum)."""

RECORDING = "recording_ratio"
REQUIRED = ("snapshot_date", "age_years", "sex", "ethnicity", "send", "area")


class OverviewSettings(BaseModel):
    """How the overview judges and suppresses.

    Attributes
    ----------
    tolerance : (float, float)
        The band a ratio (or a change of ratio) may move within, as in the fairness audit.
    min_cell : int
        Suppress any figure resting on fewer children than this.
    quarters : int
        The trend window, in quarters before the latest snapshot; changes are measured over
        ``quarters // 2`` and ``quarters`` quarters.
    level : float
        Coverage of the intervals.
    seed : int
        Seed of the random choice among children tied at a capacity cut.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    tolerance: tuple[float, float] = (0.8, 1.25)
    min_cell: int = Field(10, ge=1)
    quarters: int = Field(8, ge=1, le=40)
    level: float = Field(0.95, gt=0, lt=1)
    seed: int = 0

    @field_validator("tolerance")
    @classmethod
    def _band(cls, value: tuple[float, float]) -> tuple[float, float]:
        lo, hi = value
        if not 0 < lo < 1 < hi:
            raise ValueError(f"tolerance must be (low, high) with 0 < low < 1 < high, got {value}")
        return (float(lo), float(hi))

    @property
    def lags(self) -> tuple[int, ...]:
        """Quarters back at which the latest ratio is compared (e.g. 4 and 8)."""
        return tuple(sorted({q for q in (self.quarters // 2, self.quarters) if q > 0}))

    @property
    def z(self) -> float:
        """The normal quantile of :attr:`level`."""
        return NormalDist().inv_cdf(0.5 + self.level / 2)


@dataclass(frozen=True, eq=False)
class Overview:
    """The partnership overview: every figure the page and the JSON show.

    Attributes
    ----------
    settings : OverviewSettings
    models : pandas.DataFrame
        One row per model: ``model``, ``source`` (which version scored), ``capacity`` (share
        or count), ``first_snapshot``, ``latest_snapshot``, ``latest_known`` (latest snapshot
        whose outcomes are known), and the audit's ``audit_title``, ``audit_source``,
        ``audit_generated_at``, ``audit_passed``, ``audit_reasons``, ``audit_policy``
        (metrics the policy checks), ``audit_true_outcomes``, ``audit_recording_n``.
    snapshots : pandas.DataFrame
        Per model and date: ``children``, ``flagged``, ``share_flagged``, ``labelled``,
        ``positives``, ``base_rate``.
    groups : pandas.DataFrame
        Per model, date, grouping and group: ``n``, ``population_share``, ``flagged``,
        ``flagged_share``, ``flag_rate``, ``ratio`` (disproportionality) with ``ratio_low``,
        ``ratio_high``, ``standing``; ``labelled``, ``positives``, ``base_rate``,
        ``base_rate_ratio`` with ``base_rate_low``, ``base_rate_high``; ``suppressed`` (the
        whole group) and the reasons ``flag_reason`` and ``base_reason``. Suppressed figures
        are missing (NaN or ``<NA>``), never merely hidden.
    changes : pandas.DataFrame
        Per model, grouping, group and lag: ``quarters_back``, ``since``, ``ratio_then``,
        ``ratio_now``, ``change`` (now / then) with ``low``, ``high``, ``highlight``,
        ``direction`` and ``reason`` when a figure is missing.
    audit : pandas.DataFrame
        Per model: the audit's recording disparities and flagged ratios (``grouping``,
        ``group``, ``reference``, ``metric``, ``outcome``, ``ratio``, ``low``, ``high``,
        ``flag``, ``suppressed``, ``reason``), each with its ``kind`` ("recording",
        "policy" or "other") and ``alert``.
    highlights : pandas.DataFrame
        What the page marks, alerts first: ``kind`` "verdict" (a champion's audit did not
        pass its fairness policy: an alert about the model, with no group), "change" (a
        ratio moved beyond the band: an alert), "standing" (a ratio's interval lies wholly outside the band: a note, shown
        with the group's recorded base-rate ratio) or "audit" (a ratio the champion's audit
        flagged: an alert for a recording disparity or a breach of the audit's policy, a
        note otherwise).
    suppression : pandas.DataFrame
        Per model and grouping, at the latest snapshot: ``groups``, ``groups_suppressed``,
        ``flag_cells_suppressed``; and at the latest snapshot with known outcomes:
        ``base_cells_suppressed``.
    notes : tuple of str
        Anything the reader should know that the tables cannot say.
    generated_at, generator : str
    """

    settings: OverviewSettings
    models: pd.DataFrame
    snapshots: pd.DataFrame
    groups: pd.DataFrame
    changes: pd.DataFrame
    audit: pd.DataFrame
    highlights: pd.DataFrame
    suppression: pd.DataFrame
    notes: tuple[str, ...]
    generated_at: str
    generator: str

    def to_dict(self) -> dict[str, Any]:
        """The overview as JSON-ready data (schema :data:`SCHEMA`; missing numbers are None)."""
        return {
            "schema": SCHEMA,
            "generated_at": self.generated_at,
            "generator": self.generator,
            "settings": {
                **self.settings.model_dump(mode="json"),
                "lags": list(self.settings.lags),
                "reasons": {k: v.format(m=self.settings.min_cell) for k, v in REASONS.items()},
            },
            "notes": list(self.notes),
            **{
                name: _records(getattr(self, name))
                for name in (
                    "models",
                    "snapshots",
                    "groups",
                    "changes",
                    "audit",
                    "highlights",
                    "suppression",
                )
            },
        }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _clean(value: Any) -> Any:
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_clean(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    return value
