"""The fairness audit's result object, :class:`AuditResult`, and its dictionary (JSON) form.

What the audit measures and how is :mod:`fairness.audit`; this module holds what it returns:
every number with its interval, ratio, flag and suppression reason, in tables modelled on
Fairlearn's ``MetricFrame``, and the round trip to the ``lantern.fairness/1`` dictionary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

SCHEMA = "lantern.fairness/1"
"""The version of the result's dictionary and JSON form (see :mod:`fairness.schema`)."""

OVERALL = "all"
"""The grouping and group name of the whole population."""

ANY = "any"
"""The outcome of metrics that do not depend on a label (selection rate, mean score...)."""

RECORDED, TRUE = "recorded", "true"

LABEL_FREE = ("population_share", "mean_score", "selection_rate", "flagged_share")
"""Metrics of the group and its scores alone (outcome :data:`ANY`)."""

LABELLED = ("base_rate", "tpr", "fpr", "fnr", "precision", "auc")
"""Metrics against an outcome, computed for the recorded (and, if given, the true) outcome."""

RECORDING = "recording_ratio"
TRUE_ONLY = (RECORDING,)
"""Metrics that compare the two outcomes (outcome :data:`TRUE`; only with true labels): the
recording ratio is a group's recorded base rate over its true one. Its ratio to the reference
group is the recording disparity: 1.5 where agencies record one group's outcomes 1.5 times as
often at equal behaviour."""

METRICS = LABEL_FREE + LABELLED + TRUE_ONLY

RATIO_METRICS = (
    "recording_ratio",
    "selection_rate",
    "mean_score",
    "base_rate",
    "tpr",
    "fpr",
    "fnr",
    "precision",
    "auc",
)
"""Metrics compared with the reference group as a ratio (shares of a total are not)."""

NEEDS: dict[str, tuple[str, ...]] = {
    "population_share": ("n",),
    "mean_score": ("n",),
    "selection_rate": ("n",),
    "flagged_share": ("n",),
    "base_rate": ("n",),
    "tpr": ("positives",),
    "fnr": ("positives",),
    "fpr": ("negatives",),
    "precision": ("flagged",),
    "auc": ("positives", "negatives"),
    "recording_ratio": ("positives",),
}
"""Which counts must reach ``min_cell`` for a metric to be shown."""

REASONS = {
    "group_size": "fewer than {m} in the group",
    "positives": "fewer than {m} with the outcome",
    "negatives": "fewer than {m} without the outcome",
    "flagged": "fewer than {m} flagged",
    "cell_size": "fewer than {m} in the score bin",
    "reference": "the reference group's value is suppressed",
    "undefined": "undefined: the reference group's value is 0",
    "events": "too few to judge: fewer than {m} events, observed or expected at the reference rate",
}
"""Every suppression reason code, with its plain meaning (``m`` is the minimum)."""

GROUP_COLUMNS = ["grouping", "group", "is_reference", "n", "flagged", "suppressed", "reason"]
METRIC_COLUMNS = [
    "grouping",
    "group",
    "outcome",
    "metric",
    "value",
    "low",
    "high",
    "suppressed",
    "reason",
]
DISPARITY_COLUMNS = [
    "grouping",
    "group",
    "reference",
    "outcome",
    "metric",
    "ratio",
    "low",
    "high",
    "flag",
    "suppressed",
    "reason",
]
CALIBRATION_COLUMNS = [
    "grouping",
    "group",
    "bin",
    "outcome",
    "n",
    "mean_score",
    "observed",
    "low",
    "high",
    "suppressed",
    "reason",
]
BIN_COLUMNS = ["bin", "lowest", "highest"]


# --------------------------------------------------------------------------- small records


@dataclass(frozen=True)
class OperatingPoint:
    """Who is flagged: a score threshold or the top k.

    Attributes
    ----------
    rule : {"threshold", "top_k"}
        Flagged = score >= threshold, or among the k highest scores.
    requested : float
        The threshold, or k (a count >= 1, or a share in (0, 1)).
    threshold : float
        The lowest score flagged (NaN if none is).
    n_flagged : int
        How many rows are flagged.
    share_flagged : float
        ``n_flagged / n``.
    ties_at_cut : int
        Rows scored equal to the lowest flagged score but left unflagged to keep exactly k
        (top k only; chosen at random from the tied rows with the audit's seed, so that no
        group is favoured by the order of the file).
    """

    rule: Literal["threshold", "top_k"]
    requested: float
    threshold: float
    n_flagged: int
    share_flagged: float
    ties_at_cut: int = 0


@dataclass(frozen=True)
class AuditSettings:
    """How the audit was run (everything needed to repeat it on the same data)."""

    n_boot: int
    level: float
    seed: int
    tolerance: tuple[float, float]
    min_cell: int
    bins: int
    cluster: str | None = None


@dataclass(frozen=True)
class GroupingInfo:
    """A grouping's name, columns, groups (label and value per column) and reference."""

    name: str
    columns: tuple[str, ...]
    groups: tuple[str, ...]
    values: tuple[tuple[str, ...], ...]
    reference: str


# --------------------------------------------------------------------------- the result


@dataclass(frozen=True, eq=False)
class AuditResult:
    """Every number of one fairness audit; reports render it and compute nothing.

    Tables are tidy (one row per number). Grouping and group ``"all"`` is the whole
    population. Outcome is ``"recorded"``, ``"true"`` or ``"any"`` (label-free metrics).
    Suppressed numbers are NaN / ``<NA>`` with ``suppressed`` True and a ``reason`` code of
    :data:`REASONS`.

    Attributes
    ----------
    score, label : str
        The audited score column and the recorded outcome column.
    true_label : str or None
        The true outcome column, if given (synthetic data).
    n : int
        Rows audited.
    operating_point : OperatingPoint
        Who was flagged.
    settings : AuditSettings
        Bootstrap, tolerance band, suppression minimum and bins.
    groupings : tuple of GroupingInfo
        The groupings in report order.
    groups : pandas.DataFrame
        :data:`GROUP_COLUMNS`: size and number flagged per group.
    metrics : pandas.DataFrame
        :data:`METRIC_COLUMNS`: each metric with its interval.
    disparities : pandas.DataFrame
        :data:`DISPARITY_COLUMNS`: ratio to the reference group, interval and flag.
    calibration : pandas.DataFrame
        :data:`CALIBRATION_COLUMNS`: observed rate against mean score per score bin.
    bins : pandas.DataFrame
        :data:`BIN_COLUMNS`: the score bins (lowest and highest score in each).
    baseline : AuditResult or None
        The same audit of a baseline score (e.g. an indicator-count rule), if given.
    recording_n : int or None
        Rows the recording ratio was measured on, when they were not the audited rows
        (see ``recording_rows`` in :func:`audit`); None when they were.
    """

    score: str
    label: str
    true_label: str | None
    n: int
    operating_point: OperatingPoint
    settings: AuditSettings
    groupings: tuple[GroupingInfo, ...]
    groups: pd.DataFrame
    metrics: pd.DataFrame
    disparities: pd.DataFrame
    calibration: pd.DataFrame
    bins: pd.DataFrame
    baseline: AuditResult | None = field(default=None)
    recording_n: int | None = field(default=None)

    # ---- MetricFrame-like views

    @property
    def outcomes(self) -> tuple[str, ...]:
        """``("recorded",)``, or ``("recorded", "true")`` with true outcomes."""
        return (RECORDED,) if self.true_label is None else (RECORDED, TRUE)

    def grouping(self, name: str) -> GroupingInfo:
        """The grouping called ``name``."""
        for info in self.groupings:
            if info.name == name:
                return info
        known = ", ".join(g.name for g in self.groupings)
        raise KeyError(f"no grouping {name!r} in this audit; it has: {known}")

    def by_group(self, grouping: str, outcome: str = RECORDED, column: str = "value"):
        """One row per group, one column per metric (label-free metrics included).

        Parameters
        ----------
        grouping : str
            A grouping's name, or ``"all"``.
        outcome : {"recorded", "true"}
            Which outcome the labelled metrics are measured against.
        column : {"value", "low", "high"}
            The point estimate or an interval bound.
        """
        rows = self.metrics[
            (self.metrics["grouping"] == grouping) & self.metrics["outcome"].isin([ANY, outcome])
        ]
        table = rows.pivot(index="group", columns="metric", values=column)
        order = [OVERALL] if grouping == OVERALL else list(self.grouping(grouping).groups)
        return table.reindex(index=order, columns=list(METRICS))

    def overall(self, outcome: str = RECORDED) -> pd.Series:
        """Every metric of the whole population."""
        return self.by_group(OVERALL, outcome).iloc[0]

    def ratios(self, grouping: str, outcome: str = RECORDED, column: str = "ratio"):
        """Disparity ratios (or ``"low"``/``"high"`` bounds), one row per group."""
        rows = self.disparities[
            (self.disparities["grouping"] == grouping)
            & self.disparities["outcome"].isin([ANY, outcome])
        ]
        table = rows.pivot(index="group", columns="metric", values=column)
        return table.reindex(
            index=list(self.grouping(grouping).groups), columns=list(RATIO_METRICS)
        )

    @property
    def flags(self) -> pd.DataFrame:
        """Disparities whose whole interval lies outside the tolerance band."""
        return self.disparities[self.disparities["flag"]].reset_index(drop=True)

    @property
    def suppressed(self) -> pd.DataFrame:
        """Every suppressed number: table, grouping, group, outcome, metric (or bin), reason."""
        parts = [
            self.groups.loc[self.groups["suppressed"], ["grouping", "group", "reason"]].assign(
                table="groups", outcome=ANY, metric="n"
            ),
            self.metrics.loc[self.metrics["suppressed"]].assign(table="metrics"),
            self.disparities.loc[self.disparities["suppressed"]].assign(table="disparities"),
            self.calibration.loc[self.calibration["suppressed"]].assign(
                table="calibration", metric=lambda d: "bin " + d["bin"].astype(str)
            ),
        ]
        columns = ["table", "grouping", "group", "outcome", "metric", "reason"]
        return pd.concat([p[columns] for p in parts], ignore_index=True)

    # ---- dictionary (JSON) form

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON-ready data (schema :data:`SCHEMA`; NaN becomes None)."""
        return {
            "schema": SCHEMA,
            "score": self.score,
            "label": self.label,
            "true_label": self.true_label,
            "n": self.n,
            "operating_point": _clean(asdict(self.operating_point)),
            "settings": _clean(asdict(self.settings)),
            "groupings": [
                {
                    "name": g.name,
                    "columns": list(g.columns),
                    "reference": g.reference,
                    "groups": [
                        {"group": label, "values": dict(zip(g.columns, values, strict=True))}
                        for label, values in zip(g.groups, g.values, strict=True)
                    ],
                }
                for g in self.groupings
            ],
            "groups": _records(self.groups),
            "metrics": _records(self.metrics),
            "disparities": _records(self.disparities),
            "calibration": _records(self.calibration),
            "bins": _records(self.bins),
            "flags": _records(self.flags),
            "suppressed": _records(self.suppressed),
            "baseline": None if self.baseline is None else self.baseline.to_dict(),
            "recording_n": self.recording_n,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditResult:
        """Rebuild a result from :meth:`to_dict` (or a ``fairness.json`` document)."""
        if data.get("schema") != SCHEMA:
            raise ValueError(
                f"this is not a {SCHEMA} result (schema {data.get('schema')!r}); "
                "re-run the audit with this version of Lantern"
            )
        op = dict(data["operating_point"])
        op["threshold"] = _nan(op["threshold"])
        settings = dict(data["settings"])
        settings["tolerance"] = tuple(settings["tolerance"])
        return cls(
            score=data["score"],
            label=data["label"],
            true_label=data["true_label"],
            n=int(data["n"]),
            operating_point=OperatingPoint(**op),
            settings=AuditSettings(**settings),
            groupings=tuple(
                GroupingInfo(
                    name=g["name"],
                    columns=tuple(g["columns"]),
                    groups=tuple(x["group"] for x in g["groups"]),
                    values=tuple(tuple(x["values"][c] for c in g["columns"]) for x in g["groups"]),
                    reference=g["reference"],
                )
                for g in data["groupings"]
            ),
            groups=_table(data["groups"], GROUP_COLUMNS),
            metrics=_table(data["metrics"], METRIC_COLUMNS),
            disparities=_table(data["disparities"], DISPARITY_COLUMNS),
            calibration=_table(data["calibration"], CALIBRATION_COLUMNS),
            bins=_table(data["bins"], BIN_COLUMNS),
            baseline=None if data.get("baseline") is None else cls.from_dict(data["baseline"]),
            recording_n=None if data.get("recording_n") is None else int(data["recording_n"]),
        )


_INT_COLUMNS = {"n", "flagged", "bin"}
_BOOL_COLUMNS = {"is_reference", "suppressed", "flag"}
_FLOAT_COLUMNS = {"value", "low", "high", "ratio", "mean_score", "observed", "lowest", "highest"}


def _table(records: list[dict], columns: list[str]) -> pd.DataFrame:
    """A tidy table with the audit's dtypes (so a result survives a trip through JSON)."""
    frame = pd.DataFrame.from_records(records, columns=columns)
    out = {}
    for c in columns:
        if c in _INT_COLUMNS:
            out[c] = pd.array(frame[c].tolist(), dtype="Int64")
        elif c in _BOOL_COLUMNS:
            out[c] = frame[c].astype(bool).to_numpy()
        elif c in _FLOAT_COLUMNS:
            out[c] = np.array([_nan(v) for v in frame[c]], dtype=float)
        else:
            out[c] = pd.Series([_text(v) for v in frame[c]], dtype=object)
    return pd.DataFrame(out, columns=columns)


def _text(value) -> str | None:
    """A text cell: None stays None (pandas may have read it as NaN)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _nan(value) -> float:
    """None (JSON's null) as NaN."""
    return math.nan if value is None else float(value)


def _clean(value):
    """Plain Python values for JSON: NaN and <NA> become None, numpy scalars Python ones."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as a list of JSON-ready rows."""
    return [
        {k: _clean(v) for k, v in zip(frame.columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]
