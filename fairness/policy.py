"""The fairness policy: which disparities a model may not show, and the verdict on an audit.

The default policy makes no assumption about what a tool is for: a model fails if, for
ethnicity or SEND, any group that is not suppressed has a ratio of false negative rate, recall
(TPR) or selection rate whose whole interval lies outside the tolerance band, on either side.

:meth:`FairnessPolicy.assistive` is the policy for an assistive intervention such as Lantern's
prompts, where missing a child who needs support matters most: it fails a model only where a
group is missed more often than the reference group (its FNR ratio wholly above the band, or
its recall ratio wholly below), over ethnicity, SEND and sex and the intersections ethnicity ×
SEND and ethnicity × sex (Asian girls are not the average of Asian children and girls). Every other disparity (selection rate, false positive rate,
and the other side) is still flagged in the report for the board to read. Where base rates
differ between groups (children with an EHCP are several times as likely to have either
outcome), selection-rate parity would mean missing children who need support; a partnership
that also gates on over-flagging names ``fpr`` or ``selection_rate`` in its policy file. For
a punitive tool the harm is the other way: a false positive (COMPAS: FPR 1.9 times as high
for Black defendants) is what the default, two-sided policy catches.

It fails closed: a grouping or metric the policy asks for that the audit lacks, or a group
column where nothing could be checked (e.g. the reference group is suppressed), is a reason
to fail, because a model that can serve must have passed the audit. An intersection is gated
wherever its cells hold enough events to judge (the audit suppresses a ratio on fewer than
its minimum, observed or expected at the reference rate); where none does, the verdict says
"not enough children to judge" for it instead of failing, since small cells are the rule there.

``policy.verdict(result)`` returns ``{"passed": bool, "reasons": [str], "flags": [dict],
"not_checked": [str], "gated": str}`` (the last says what was gated); ``lantern promote``
reads ``passed`` and ``reasons`` from a model run's ``fairness/result.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fairness.groups import JOIN
from fairness.result import RATIO_METRICS, REASONS, RECORDED, AuditResult

MetricName = Literal[RATIO_METRICS]
"""Any metric the audit compares with the reference group as a ratio."""

LABELS = {
    "selection_rate": "selection rate",
    "mean_score": "mean score",
    "base_rate": "base rate",
    "tpr": "recall (TPR)",
    "fpr": "false positive rate (FPR)",
    "fnr": "false negative rate (FNR)",
    "precision": "precision",
    "auc": "AUC",
    "recording_ratio": "recorded-to-true base rate",
}
"""Plain names of the ratio metrics, for reasons and reports."""


class FairnessPolicy(BaseModel):
    """Which metrics and groupings must stay within the tolerance band.

    Attributes
    ----------
    metrics : list of str
        Metrics whose ratio to the reference group is checked (default FNR, recall and
        selection rate).
    directions : dict of str to {"above", "below", "both"}
        For each metric, which side of the band harms a group; a metric not named here is
        checked on both sides (the default for every metric).
    group_columns : list of str
        Group columns checked (default ethnicity and SEND, Lantern's ``send`` column).
    intersections : bool or list of (str, str)
        Also check intersections: True for every pair of the group columns, or the pairs.
    tolerance : (float, float)
        The band of acceptable ratios.
    min_group_size : int
        Groups smaller than this are not checked (the audit suppresses those under its own
        minimum in any case).
    outcome : {"recorded", "true"}
        Which outcome the labelled metrics are checked against ("true" only on synthetic
        data, where the generator knows it).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    metrics: list[MetricName] = Field(default_factory=lambda: ["fnr", "tpr", "selection_rate"])
    directions: dict[str, Literal["above", "below", "both"]] = Field(default_factory=dict)
    group_columns: list[str] = Field(default_factory=lambda: ["ethnicity", "send"])
    intersections: bool | list[tuple[str, str]] = False
    tolerance: tuple[float, float] = (0.8, 1.25)
    min_group_size: int = Field(10, ge=1)
    outcome: Literal["recorded", "true"] = RECORDED

    @field_validator("tolerance")
    @classmethod
    def _band(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 < value[0] < 1 < value[1]:
            raise ValueError(f"tolerance must be (low, high) with 0 < low < 1 < high, got {value}")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> FairnessPolicy:
        if not self.metrics or not self.group_columns:
            raise ValueError("a fairness policy needs at least one metric and one group column")
        if not isinstance(self.intersections, bool):
            bad = [p for p in self.intersections if not set(p) <= set(self.group_columns)]
            if bad or any(a == b for a, b in self.intersections):
                raise ValueError(
                    f"intersections {bad or list(self.intersections)} must be pairs of distinct "
                    f"group columns ({', '.join(self.group_columns)}): add the column first"
                )
        return self

    @classmethod
    def assistive(cls, **overrides: Any) -> FairnessPolicy:
        """The policy for an assistive intervention: fail only where a group is missed more
        often than the reference (FNR ratio above the band, recall ratio below it), over
        ethnicity, SEND, sex and the intersections ethnicity × SEND and ethnicity × sex.
        Overriding ``group_columns`` keeps only the intersections of those columns."""
        settings = {
            "metrics": ["fnr", "tpr"],
            "directions": {"fnr": "above", "tpr": "below"},
            "group_columns": ["ethnicity", "send", "sex"],
            "intersections": [("ethnicity", "send"), ("ethnicity", "sex")],
        }
        if "group_columns" in overrides and "intersections" not in overrides:
            columns = set(overrides["group_columns"])
            settings["intersections"] = [p for p in settings["intersections"] if set(p) <= columns]
        return cls(**{**settings, **overrides})

    @classmethod
    def from_yaml(cls, path: str | Path) -> FairnessPolicy:
        """A policy from a YAML file of the fields above (missing fields take the defaults)."""
        import yaml

        data = yaml.safe_load(Path(path).read_text()) or {}
        return cls.model_validate(data)

    def groupings(self) -> list[str]:
        """Names of the groupings checked."""
        return list(self.group_columns) + [f"{a}{JOIN}{b}" for a, b in self._pairs()]

    def _pairs(self) -> list[tuple[str, str]]:
        if self.intersections is True:
            cols = self.group_columns
            return [(a, b) for i, a in enumerate(cols) for b in cols[i + 1 :]]
        return [] if self.intersections is False else [tuple(p) for p in self.intersections]

    def verdict(self, result: AuditResult) -> dict[str, Any]:
        """Whether ``result`` passes this policy, and why.

        Returns
        -------
        dict
            ``passed`` (bool); ``reasons`` (plain sentences: every failure naming group,
            metric and ratio, or why it passed); ``flags`` (one dict per failing ratio:
            grouping, group, reference, metric, outcome, ratio, low, high, direction);
            ``not_checked`` (groups skipped as suppressed or below ``min_group_size``).
        """
        failures, flags, not_checked, total = self._missing(result), [], [], 0
        for grouping in [] if failures else self.groupings():
            sizes, checked = _sizes(result, grouping), 0
            for row in self._rows(result, grouping).itertuples(index=False):
                if row.group == row.reference:
                    continue
                skip = self._skip(row, sizes.get(row.group))
                if skip:
                    not_checked.append(skip)
                    continue
                checked += 1
                flag = self._flag(row)
                if flag:
                    flags.append(flag)
                    failures.append(_sentence(flag, result.settings.level))
            if not checked and JOIN in grouping:
                not_checked.append(
                    f"{grouping}: not enough children to judge (no cell has enough events "
                    "to compare with the reference group)"
                )
            elif not checked:
                failures.append(
                    f"nothing could be checked for {grouping} (reference group "
                    f"{_reference(result, grouping)}): every comparison is suppressed or there "
                    "is only one group, so the audit cannot show it is within the band"
                )
            total += checked
        return {
            "passed": not failures,
            "reasons": failures or [self._pass_sentence(total)],
            "flags": flags,
            "not_checked": not_checked,
            "gated": self.describe(),
        }

    def describe(self) -> str:
        """What this policy gates, in one sentence (recorded with every verdict)."""
        lo, hi = self.tolerance
        sides = {"above": "above", "below": "below", "both": "outside"}
        metrics = ", ".join(
            f"{LABELS[m]} {sides[self.directions.get(m, 'both')]} the band" for m in self.metrics
        )
        return (
            f"fails a model where a group's {metrics} {lo:.2f}-{hi:.2f}, over "
            f"{', '.join(self.groupings())}"
        )

    # ---- helpers

    def _missing(self, result: AuditResult) -> list[str]:
        """Reasons the audit cannot answer this policy at all."""
        reasons = []
        audited = [g.name for g in result.groupings]
        for grouping in self.groupings():
            if grouping not in audited:
                reasons.append(
                    f"the audit has no grouping {grouping!r} (it has: {', '.join(audited)}); "
                    f"audit with group columns including {grouping.split(JOIN)[0]!r}"
                )
        if self.outcome not in result.outcomes:
            reasons.append(
                f"the policy checks the {self.outcome} outcome but the audit has only "
                f"{', '.join(result.outcomes)}; give the true outcome column or check 'recorded'"
            )
        unknown = [m for m in self.metrics if m not in RATIO_METRICS]
        if unknown:
            reasons.append(f"the audit has no ratios for {unknown}")
        return reasons

    def _rows(self, result: AuditResult, grouping: str) -> pd.DataFrame:
        d = result.disparities
        return d[
            (d["grouping"] == grouping)
            & d["metric"].isin(self.metrics)
            & d["outcome"].isin(["any", self.outcome])
        ]

    def _skip(self, row, size) -> str | None:
        """Why a ratio is not checked, or None."""
        where = f"{row.grouping} = {row.group}: {LABELS[row.metric]}"
        if row.suppressed:
            meaning = REASONS[row.reason].format(m="the minimum")
            return f"{where} not checked ({meaning})"
        if size is not None and size < self.min_group_size:
            return f"{where} not checked (fewer than {self.min_group_size} in the group)"
        return None

    def _flag(self, row) -> dict[str, Any] | None:
        """The flag of a ratio whose whole interval lies outside the band, or None."""
        lo, hi = self.tolerance
        if row.high < lo:
            direction = "below"
        elif row.low > hi:
            direction = "above"
        else:
            return None
        if self.directions.get(row.metric, "both") not in ("both", direction):
            return None
        return {
            "grouping": row.grouping,
            "group": row.group,
            "reference": row.reference,
            "metric": row.metric,
            "outcome": row.outcome,
            "ratio": float(row.ratio),
            "low": float(row.low),
            "high": float(row.high),
            "direction": direction,
            "tolerance": [lo, hi],
        }

    def _pass_sentence(self, checked: int) -> str:
        lo, hi = self.tolerance
        metrics = ", ".join(LABELS[m] for m in self.metrics)
        return (
            f"no group's {metrics} ratio lies wholly outside {lo:.2f}-{hi:.2f} "
            f"({checked} group-metric ratios checked over {', '.join(self.groupings())})"
        )


def _sizes(result: AuditResult, grouping: str) -> dict[str, int]:
    g = result.groups[(result.groups["grouping"] == grouping) & ~result.groups["suppressed"]]
    return dict(zip(g["group"], g["n"].astype(int), strict=True))


def _reference(result: AuditResult, grouping: str) -> str:
    return result.grouping(grouping).reference


def _sentence(flag: dict[str, Any], level: float) -> str:
    """A failure in words, naming group, metric, ratio, interval and reference."""
    lo, hi = flag["tolerance"]
    outcome = "" if flag["outcome"] in ("any", RECORDED) else " (true outcome)"
    return (
        f"{flag['grouping']} = {flag['group']}: {LABELS[flag['metric']]}{outcome} is "
        f"{flag['ratio']:.2f} times {flag['reference']}'s ({level:.0%} interval "
        f"{flag['low']:.2f}-{flag['high']:.2f}), wholly {flag['direction']} the band "
        f"{lo:.2f}-{hi:.2f}"
    )
