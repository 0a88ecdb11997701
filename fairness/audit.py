"""The fairness audit of any scores, labels and groups, held in one result object.

:func:`audit` takes a table with a score column, a 0/1 label column and group columns (and,
optionally, the true outcome and a baseline score) and returns an :class:`AuditResult`,
modelled on Fairlearn's ``MetricFrame``: for every group of every grouping (each group column
and intersections of pairs of them) and for the whole population (``"all"``):

- size, share of the population, base rate, mean score;
- at the operating point (flagged = score >= threshold, or in the top k): selection rate,
  share of everyone flagged, TPR (recall), FPR, FNR, precision;
- ROC AUC within the group, and calibration (observed rate against mean score by score bin);

each with a percentile bootstrap interval, and disparity ratios against a reference group with
a FLAG where the whole interval lies outside the tolerance band. With true outcomes the
labelled metrics appear twice, against the recorded and the true outcome, side by side.

Suppression, as official statistics do: a group of fewer than ``min_cell`` rows shows nothing
but its name; TPR and FNR need ``min_cell`` positives, FPR ``min_cell`` negatives, precision
``min_cell`` flagged, AUC both positives and negatives; a calibration cell needs ``min_cell``
rows; a ratio needs both its group's and the reference's value. A suppressed number is absent
from the result (NaN, ``<NA>``), never merely hidden, and its reason is recorded.

Why not ``MetricFrame`` itself: at 40,000 rows one ``MetricFrame`` of these metrics took
about 3 s per grouping here, and its bootstrap resamples in a Python loop (about 1 s per
replicate for one grouping and two metrics), so 5 groupings x 1,000 replicates would take
over an hour; its rates are also 0, not undefined, for a group without positives. Here every
number comes from one weighted engine (:mod:`fairness.engine`): the point estimate is a
replicate with every weight 1, and the tests check the numbers against ``MetricFrame``,
scikit-learn and plain pandas.

The bootstrap resamples rows (or whole clusters, e.g. a child's several snapshots) with their
flag held fixed: the audit is of the decisions as made, and the interval says how precisely
the data pin down each group's rates under them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from fairness.engine import CellSums, RankedCells, replicate_chunks, unit_weights
from fairness.groups import Grouping, make_groupings, reference_of
from fairness.stats import percentile_interval, ratio

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


# --------------------------------------------------------------------------- inputs


def _column(data: pd.DataFrame, name: str, role: str) -> pd.Series:
    """A column of ``data`` by name, with an error naming the columns there are."""
    if name not in data.columns:
        raise ValueError(
            f"{role} column {name!r} is not in the data; its columns are: "
            f"{', '.join(map(str, data.columns))}"
        )
    return data[name]


def _first_bad(mask: np.ndarray, data: pd.DataFrame) -> str:
    """Where the first bad row is: its position and index label."""
    i = int(np.flatnonzero(mask)[0])
    return f"row {i} (index {data.index[i]!r}; {int(mask.sum())} such rows in all)"


def _labels(data: pd.DataFrame, name: str, role: str) -> np.ndarray:
    """A 0/1 label column as floats, or a clear error naming the first bad row."""
    column = _column(data, name, role)
    values = pd.to_numeric(column.astype(object), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        example = column.iloc[int(np.flatnonzero(bad)[0])]
        raise ValueError(
            f"{role} column {name!r} must hold only 0 and 1 (1 = the outcome happened), but "
            f"{_first_bad(bad, data)} holds {example!r}; recode it to 0/1 or drop such rows "
            "(e.g. with --filter)"
        )
    return values


def _scores(data: pd.DataFrame, name: str, role: str) -> np.ndarray:
    """A numeric, finite score column, or a clear error naming the first bad row."""
    column = _column(data, name, role)
    values = pd.to_numeric(column.astype(object), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        example = column.iloc[int(np.flatnonzero(bad)[0])]
        raise ValueError(
            f"{role} column {name!r} must be a finite number in every row, but "
            f"{_first_bad(bad, data)} holds {example!r}; fix or drop such rows "
            "(e.g. with --filter)"
        )
    return values


def operating_point(
    scores: np.ndarray,
    *,
    threshold: float | None = None,
    top_k: float | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, OperatingPoint]:
    """Who is flagged: ``score >= threshold``, or the ``top_k`` highest scores.

    Parameters
    ----------
    scores : ndarray
        Scores; higher means more concern.
    threshold : float, optional
        Flag every row scored at least this.
    top_k : float, optional
        Flag this many rows (an integer >= 1) or this share of them (in (0, 1), rounded up).
        Rows tied at the cut are chosen at random (seeded), so that no group gains from the
        order of the file.
    seed : int, default 0
        Seed of that choice.

    Returns
    -------
    flagged : ndarray of bool
    OperatingPoint
    """
    n = scores.size
    if (threshold is None) == (top_k is None):
        raise ValueError("give exactly one operating point: a threshold or a top k")
    if threshold is not None:
        flagged = scores >= threshold
        lowest = float(scores[flagged].min()) if flagged.any() else math.nan
        point = OperatingPoint("threshold", float(threshold), lowest, int(flagged.sum()), 0.0)
    else:
        k = _k(top_k, n)
        tiebreak = np.random.default_rng(seed).permutation(n)
        order = np.lexsort((tiebreak, -scores))
        flagged = np.zeros(n, dtype=bool)
        flagged[order[:k]] = True
        lowest = float(scores[order[k - 1]]) if k else math.nan
        ties = int(((scores == lowest) & ~flagged).sum()) if k else 0
        point = OperatingPoint("top_k", float(top_k), lowest, k, 0.0, ties)
    share = point.n_flagged / n if n else math.nan
    return flagged, OperatingPoint(**{**asdict(point), "share_flagged": share})


def _k(top_k: float, n: int) -> int:
    """The number flagged by ``top_k``: a count, or a share of ``n`` rounded up."""
    if 0 < top_k < 1:
        return min(n, int(math.ceil(top_k * n - 1e-9)))
    if top_k >= 1 and float(top_k).is_integer():
        return min(n, int(top_k))
    raise ValueError(
        f"top_k must be a whole number of rows (>= 1) or a share in (0, 1), got {top_k}"
    )


def score_bins(scores: np.ndarray, bins: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Each row's score bin (0 = lowest scores) and the bins' lowest and highest scores.

    Deciles (for ``bins=10``) of the whole population's scores, so every group is binned
    alike; a score on an edge goes to the bin above. A score with at most ``bins`` distinct
    values (e.g. COMPAS deciles 1-10) gets one bin per value.
    """
    distinct = np.unique(scores)
    if distinct.size <= bins:
        which = np.searchsorted(distinct, scores)
    else:
        edges = np.unique(np.quantile(scores, np.linspace(0.0, 1.0, bins + 1))[1:-1])
        which = np.searchsorted(edges, scores, side="right")
    used, which = np.unique(which, return_inverse=True)
    frame = pd.DataFrame({"bin": which, "score": scores}).groupby("bin")["score"]
    table = pd.DataFrame(
        {
            "bin": pd.array(np.arange(used.size) + 1, dtype="Int64"),
            "lowest": frame.min().to_numpy(),
            "highest": frame.max().to_numpy(),
        }
    )
    return which, table


# --------------------------------------------------------------------------- the engine's use


@dataclass(frozen=True)
class _Layout:
    """The audit's partitions of the rows, and what is summed over them."""

    groupings: list[Grouping]  # "all" first
    n_bins: int
    sums: CellSums
    ranks: list[RankedCells]
    n_outcomes: int

    @classmethod
    def of(cls, groupings, bins, scores, flagged, labels) -> _Layout:
        n_bins = int(bins.max()) + 1
        ones = np.ones(scores.size)
        # per group: n, flagged, score sum, then per outcome: positives, true positives
        per_group = np.column_stack(
            [ones, flagged, scores, *[c for y in labels.T for c in (y, y * flagged)]]
        )
        # per (group, bin): n, score sum, then per outcome: positives
        per_bin = np.column_stack([ones, scores, *labels.T])
        partitions = [(g.codes, g.n_groups, per_group) for g in groupings]
        partitions += [(g.codes * n_bins + bins, g.n_groups * n_bins, per_bin) for g in groupings]
        ranks = [RankedCells.of(g.codes, g.n_groups, scores, labels) for g in groupings]
        return cls(groupings, n_bins, CellSums.of(partitions), ranks, labels.shape[1])

    def evaluate(self, weights: np.ndarray) -> tuple[list[dict], list[dict]]:
        """Per grouping: metric arrays (groups x b) and calibration arrays (groups x bins x b)."""
        sums = self.sums(weights)
        k = len(self.groupings)
        overall = sums[0]  # the "all" grouping's single group
        metrics = [
            _rates(s, overall, rank(weights), self.n_outcomes)
            for s, rank in zip(sums[:k], self.ranks, strict=True)
        ]
        calibration = [_calibration(s, self.n_bins, self.n_outcomes) for s in sums[k:]]
        return metrics, calibration


def _rates(s: np.ndarray, overall: np.ndarray, auc: np.ndarray, n_outcomes: int) -> dict:
    """Metric arrays from a grouping's sums ``s`` (groups x values x b) and AUCs."""
    n, flagged, score = s[:, 0], s[:, 1], s[:, 2]
    out = {
        ("population_share", ANY): ratio(n, overall[:, 0]),
        ("mean_score", ANY): ratio(score, n),
        ("selection_rate", ANY): ratio(flagged, n),
        ("flagged_share", ANY): ratio(flagged, overall[:, 1]),
        ("n", ANY): n,
        ("flagged", ANY): flagged,
    }
    for k, outcome in enumerate((RECORDED, TRUE)[:n_outcomes]):
        pos, tp = s[:, 3 + 2 * k], s[:, 4 + 2 * k]
        out |= {
            ("base_rate", outcome): ratio(pos, n),
            ("tpr", outcome): ratio(tp, pos),
            ("fnr", outcome): ratio(pos - tp, pos),
            ("fpr", outcome): ratio(flagged - tp, n - pos),
            ("precision", outcome): ratio(tp, flagged),
            ("auc", outcome): auc[:, k],
            ("positives", outcome): pos,
            ("negatives", outcome): n - pos,
        }
    if n_outcomes == 2:
        out[("recording_ratio", TRUE)] = ratio(s[:, 3], s[:, 5])
    return out


def _calibration(s: np.ndarray, n_bins: int, n_outcomes: int) -> dict:
    """Calibration arrays (groups x bins x b) from (group, bin) sums."""
    s = s.reshape(-1, n_bins, *s.shape[1:])
    n = s[:, :, 0]
    out = {"n": n, "mean_score": ratio(s[:, :, 1], n)}
    for k, outcome in enumerate((RECORDED, TRUE)[:n_outcomes]):
        out[outcome] = ratio(s[:, :, 2 + k], n)
    return out


def _bootstrap(layout: _Layout, n_rows, settings: AuditSettings, cluster):
    """Replicate arrays of every metric and calibration cell, replicates last."""
    metrics, calibration = [], []
    for weights in replicate_chunks(n_rows, settings.n_boot, seed=settings.seed, cluster=cluster):
        m, c = layout.evaluate(weights)
        metrics.append(m)
        calibration.append(c)
    if not metrics:
        return None, None

    def join(parts):
        return [
            {key: np.concatenate([p[i][key] for p in parts], axis=-1) for key in parts[0][i]}
            for i in range(len(parts[0]))
        ]

    return join(metrics), join(calibration)


# --------------------------------------------------------------------------- tables


def _suppression(metric: str, counts: Mapping[str, float], m: int) -> str | None:
    """Why a metric of a group is suppressed (a :data:`REASONS` code), or None."""
    if counts["n"] < m:
        return "group_size"
    for need in NEEDS[metric]:
        if counts[need] < m:
            return need
    return None


def _counts(point: dict, g: int, outcome: str) -> dict[str, float]:
    """The counts a group's suppression rests on, for one outcome."""
    counts = {"n": point[("n", ANY)][g, 0], "flagged": point[("flagged", ANY)][g, 0]}
    if outcome != ANY:
        counts |= {
            "positives": point[("positives", outcome)][g, 0],
            "negatives": point[("negatives", outcome)][g, 0],
        }
    return counts


RATE_BASIS = {
    "selection_rate": "n",
    "tpr": "positives",
    "fnr": "positives",
    "fpr": "negatives",
    "precision": "flagged",
}
"""The count each rate is a share of: its events are ``rate * count``."""


def _too_few_events(metric, point, g, ref, outcome, m) -> bool:
    """Whether a rate's ratio rests on too few events to judge, observed or expected.

    A percentile bootstrap of a rate with no events has the degenerate interval [0, 0]: 13
    children with none flagged at a 2% capacity would read as "wholly below the band",
    when about 0.3 were expected at the reference rate. A ratio is judged only where the
    group's events, or those it would have at the reference group's rate, reach ``m``.
    """
    if metric not in RATE_BASIS:
        return False
    counts = _counts(point, g, RECORDED if outcome == ANY else outcome)
    basis = counts[RATE_BASIS[metric]]
    observed = point[(metric, outcome)][g, 0] * basis
    expected = point[(metric, outcome)][ref, 0] * basis
    return max(observed, expected) < m


def _interval(reps, key, level, n_groups) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of each group (NaN without replicates)."""
    if reps is None:
        return np.full(n_groups, np.nan), np.full(n_groups, np.nan)
    return percentile_interval(reps[key], level)


def _metric_rows(name, labels, point, reps, settings, outcomes) -> tuple[list, dict]:
    """Rows of the metrics table for one grouping, and each cell's suppression reason."""
    rows, reasons = [], {}
    keys = [(m, ANY) for m in LABEL_FREE] + [(m, o) for o in outcomes for m in LABELLED]
    keys += [(m, TRUE) for m in TRUE_ONLY if TRUE in outcomes]
    for metric, outcome in keys:
        low, high = _interval(reps, (metric, outcome), settings.level, len(labels))
        for g, label in enumerate(labels):
            counts = _counts(point, g, RECORDED if outcome == ANY else outcome)
            reason = _suppression(metric, counts, settings.min_cell)
            reasons[(label, metric, outcome)] = reason
            shown = reason is None
            rows.append(
                {
                    "grouping": name,
                    "group": label,
                    "outcome": outcome,
                    "metric": metric,
                    "value": point[(metric, outcome)][g, 0] if shown else math.nan,
                    "low": low[g] if shown else math.nan,
                    "high": high[g] if shown else math.nan,
                    "suppressed": not shown,
                    "reason": reason,
                }
            )
    return rows, reasons


def _outcomes_of(metric: str, outcomes: tuple[str, ...]) -> list[str]:
    """The outcomes a metric is computed against."""
    if metric in LABEL_FREE:
        return [ANY]
    if metric in TRUE_ONLY:
        return [TRUE] if TRUE in outcomes else []
    return list(outcomes)


def _disparity_rows(name, labels, ref, point, reps, reasons, settings, outcomes) -> list:
    """Rows of the disparities table for one grouping."""
    rows = []
    lo_band, hi_band = settings.tolerance
    for metric in RATIO_METRICS:
        for outcome in _outcomes_of(metric, outcomes):
            values = point[(metric, outcome)][:, 0]
            ratios = ratio(values, values[ref])
            if reps is None:
                low = high = np.full(len(labels), np.nan)
            else:
                r = reps[(metric, outcome)]
                low, high = percentile_interval(ratio(r, r[ref : ref + 1]), settings.level)
            for g, label in enumerate(labels):
                reason = reasons[(label, metric, outcome)]
                if reason is None and reasons[(labels[ref], metric, outcome)] is not None:
                    reason = "reference"
                if reason is None and not np.isfinite(ratios[g]):
                    reason = "undefined"
                if reason is None and _too_few_events(
                    metric, point, g, ref, outcome, settings.min_cell
                ):
                    reason = "events"
                shown = reason is None
                lo, hi = (low[g], high[g]) if shown else (math.nan, math.nan)
                rows.append(
                    {
                        "grouping": name,
                        "group": label,
                        "reference": labels[ref],
                        "outcome": outcome,
                        "metric": metric,
                        "ratio": ratios[g] if shown else math.nan,
                        "low": lo,
                        "high": hi,
                        "flag": bool(shown and g != ref and (hi < lo_band or lo > hi_band)),
                        "suppressed": not shown,
                        "reason": reason,
                    }
                )
    return rows


def _calibration_rows(name, labels, point, reps, settings, outcomes, n_bins) -> list:
    """Rows of the calibration table for one grouping (bins numbered from 1)."""
    rows = []
    n = point["n"][:, :, 0]
    for outcome in outcomes:
        if reps is None:
            low = high = np.full(n.shape, np.nan)
        else:
            low, high = percentile_interval(reps[outcome], settings.level)
        for g, label in enumerate(labels):
            for b in range(n_bins):
                if n[g, b] == 0:
                    continue
                shown = n[g, b] >= settings.min_cell
                rows.append(
                    {
                        "grouping": name,
                        "group": label,
                        "bin": b + 1,
                        "outcome": outcome,
                        "n": int(n[g, b]) if shown else pd.NA,
                        "mean_score": point["mean_score"][g, b, 0] if shown else math.nan,
                        "observed": point[outcome][g, b, 0] if shown else math.nan,
                        "low": low[g, b] if shown else math.nan,
                        "high": high[g, b] if shown else math.nan,
                        "suppressed": not shown,
                        "reason": None if shown else "cell_size",
                    }
                )
    return rows


def _group_rows(name, labels, ref, point, min_cell) -> list:
    """Rows of the groups table for one grouping."""
    rows = []
    for g, label in enumerate(labels):
        n, flagged = point[("n", ANY)][g, 0], point[("flagged", ANY)][g, 0]
        shown = n >= min_cell
        rows.append(
            {
                "grouping": name,
                "group": label,
                "is_reference": g == ref,
                "n": int(n) if shown else pd.NA,
                "flagged": int(flagged) if shown else pd.NA,
                "suppressed": not shown,
                "reason": None if shown else "group_size",
            }
        )
    return rows


# --------------------------------------------------------------------------- the audit


def audit(
    data: pd.DataFrame,
    *,
    score: str,
    label: str,
    groups: Sequence[str],
    threshold: float | None = None,
    top_k: float | None = None,
    true_label: str | None = None,
    baseline: str | None = None,
    baseline_threshold: float | None = None,
    intersections: bool | Sequence[tuple[str, str]] = True,
    references: Mapping[str, str] | None = None,
    tolerance: tuple[float, float] = (0.8, 1.25),
    min_cell: int = 10,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    cluster: str | None = None,
    bins: int = 10,
    recording_rows: pd.DataFrame | None = None,
) -> AuditResult:
    """Audit one score column (and optionally a baseline) for disproportionality.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per scored child (or person); only the named columns are read.
    score : str
        The score column; higher means more concern.
    label : str
        The recorded outcome column, 0/1.
    groups : sequence of str
        Group columns (e.g. ``["ethnicity", "send", "sex"]``). Empty values form a group
        of their own, ``"(missing)"``.
    threshold, top_k : float, optional
        The operating point; give exactly one. ``top_k`` is a count (>= 1) or a share (< 1).
    true_label : str, optional
        The true outcome column, 0/1 (synthetic data): labelled metrics are then computed
        against it too, beside the recorded outcome.
    baseline : str, optional
        A second score column (e.g. an indicator-count rule) audited the same way, on the
        same bootstrap replicates, in :attr:`AuditResult.baseline`.
    baseline_threshold : float, optional
        The baseline's threshold; by default the baseline flags as many rows as the score
        (its top k, k = the score's number flagged), so both are compared at equal capacity.
    intersections : bool or sequence of (str, str), default True
        Intersections of pairs of group columns: all pairs, none, or the pairs given.
    references : mapping of str to str, optional
        Reference group per group column (``{"ethnicity": "White"}``); default the largest
        group. An intersection's reference combines its columns' references when both are
        given, else it is the largest intersection group.
    tolerance : (float, float), default (0.8, 1.25)
        The band of acceptable ratios; a ratio whose whole interval lies outside is flagged.
    min_cell : int, default 10
        The suppression minimum (see the module docstring).
    n_boot : int, default 1000
        Bootstrap replicates (0: no intervals, no flags).
    level : float, default 0.95
        Interval coverage.
    seed : int, default 0
        Seed of the replicates and of tie-breaking at a top-k cut.
    cluster : str, optional
        A column of cluster ids (e.g. ``child_id`` when a child has several rows): whole
        clusters are resampled.
    bins : int, default 10
        Score bins for calibration (deciles of the whole population's scores).
    recording_rows : pandas.DataFrame, optional
        Rows to measure the recording ratio on, instead of the audited rows (needs
        ``true_label``). The recording ratio compares two outcome columns and reads no score,
        so it can be measured on every labelled child (for a model: every child at every
        labelled date, not only the held-out test rows), which narrows its interval. Needs the
        group, label and true-label columns, and ``cluster`` if given (a child at several
        dates is then resampled whole). Group references are the audited rows'.

    Returns
    -------
    AuditResult
    """
    settings = _settings(n_boot, level, seed, tolerance, min_cell, bins, cluster)
    groups = [groups] if isinstance(groups, str) else list(groups)
    if not groups:
        raise ValueError("give at least one group column (e.g. ethnicity)")
    group_frame = pd.DataFrame({g: _column(data, g, "group") for g in groups})
    if OVERALL in group_frame.columns:
        raise ValueError(f"a group column may not be called {OVERALL!r}; rename it")
    if len(data) == 0:
        raise ValueError("there are no rows to audit (did a filter remove them all?)")
    groupings = make_groupings(group_frame, intersections)
    labels = [_labels(data, label, "label")]
    if true_label is not None:
        labels.append(_labels(data, true_label, "true label"))
    labels = np.column_stack(labels)
    cluster_codes = None
    if cluster is not None:
        cluster_codes = pd.factorize(_column(data, cluster, "cluster"), use_na_sentinel=False)[0]
    result = _audit_score(
        _scores(data, score, "score"),
        labels,
        groupings,
        settings,
        names=(score, label, true_label),
        op={"threshold": threshold, "top_k": top_k},
        references=references,
        cluster=cluster_codes,
    )
    if recording_rows is not None:
        result = _with_recording(
            result,
            recording_rows,
            groups,
            intersections,
            settings,
            names=(label, true_label, cluster),
        )
    if baseline is None:
        return result
    base = _audit_score(
        _scores(data, baseline, "baseline score"),
        labels,
        groupings,
        settings,
        names=(baseline, label, true_label),
        op=(
            {"threshold": baseline_threshold, "top_k": None}
            if baseline_threshold is not None
            else {"threshold": None, "top_k": max(result.operating_point.n_flagged, 1)}
        ),
        references=references,
        cluster=cluster_codes,
    )
    return replace(result, baseline=base)


def _with_recording(result, rows, groups, intersections, settings, *, names) -> AuditResult:
    """``result`` with its recording-ratio metrics and disparities measured on ``rows``."""
    label, true_label, cluster = names
    if true_label is None:
        raise ValueError("recording_rows needs true_label: the recording ratio compares the two")
    if len(rows) == 0:
        raise ValueError("recording_rows has no rows; give the labelled rows or leave it out")
    frame = pd.DataFrame({g: _column(rows, g, "group") for g in groups})
    labels = np.column_stack(
        [_labels(rows, label, "label"), _labels(rows, true_label, "true label")]
    )
    codes = None
    if cluster is not None and cluster in rows:
        codes = pd.factorize(_column(rows, cluster, "cluster"), use_na_sentinel=False)[0]
    references = {g.name: g.reference for g in result.groupings}
    measured = _audit_score(
        np.zeros(len(rows)),
        labels,
        make_groupings(frame, intersections),
        settings,
        names=("(none)", label, true_label),
        op={"threshold": 1.0, "top_k": None},
        references=references,
        cluster=codes,
    )

    def swap(ours: pd.DataFrame, theirs: pd.DataFrame) -> pd.DataFrame:
        keep = ours[ours["metric"] != RECORDING]
        return pd.concat([keep, theirs[theirs["metric"] == RECORDING]], ignore_index=True)

    return replace(
        result,
        metrics=swap(result.metrics, measured.metrics),
        disparities=swap(result.disparities, measured.disparities),
        recording_n=len(rows),
    )


def _settings(n_boot, level, seed, tolerance, min_cell, bins, cluster) -> AuditSettings:
    """Checked settings, with errors that say what to give instead."""
    lo, hi = (float(t) for t in tolerance)
    if not 0 < lo < 1 < hi:
        raise ValueError(f"tolerance must be (low, high) with 0 < low < 1 < high, got {tolerance}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95; got {level}")
    if n_boot < 0 or min_cell < 1 or bins < 1:
        raise ValueError(
            f"n_boot must be >= 0, min_cell >= 1 and bins >= 1; got {n_boot}, {min_cell}, {bins}"
        )
    return AuditSettings(
        n_boot=int(n_boot),
        level=float(level),
        seed=int(seed),
        tolerance=(lo, hi),
        min_cell=int(min_cell),
        bins=int(bins),
        cluster=cluster,
    )


def _audit_score(scores, labels, groupings, settings, *, names, op, references, cluster):
    """The audit of one score column (see :func:`audit`)."""
    flagged, point_op = operating_point(scores, seed=settings.seed, **op)
    outcomes = (RECORDED, TRUE)[: labels.shape[1]]
    everyone = Grouping(OVERALL, (), (OVERALL,), ((),), np.zeros(scores.size, dtype=np.int64))
    all_groupings = [everyone, *groupings]
    bins, bin_table = score_bins(scores, settings.bins)
    layout = _Layout.of(all_groupings, bins, scores, flagged.astype(float), labels)
    point_m, point_c = layout.evaluate(unit_weights(scores.size))
    reps_m, reps_c = _bootstrap(layout, scores.size, settings, cluster)
    tables = {"groups": [], "metrics": [], "disparities": [], "calibration": []}
    infos = []
    for i, grouping in enumerate(all_groupings):
        labels_g = grouping.labels
        ref = 0 if i == 0 else reference_of(grouping, grouping.sizes(), references)
        rm = None if reps_m is None else reps_m[i]
        rc = None if reps_c is None else reps_c[i]
        rows, reasons = _metric_rows(grouping.name, labels_g, point_m[i], rm, settings, outcomes)
        tables["metrics"] += rows
        tables["groups"] += _group_rows(grouping.name, labels_g, ref, point_m[i], settings.min_cell)
        tables["calibration"] += _calibration_rows(
            grouping.name, labels_g, point_c[i], rc, settings, outcomes, layout.n_bins
        )
        if i:
            tables["disparities"] += _disparity_rows(
                grouping.name, labels_g, ref, point_m[i], rm, reasons, settings, outcomes
            )
            infos.append(
                GroupingInfo(
                    grouping.name, grouping.columns, labels_g, grouping.values, labels_g[ref]
                )
            )
    columns = {
        "groups": GROUP_COLUMNS,
        "metrics": METRIC_COLUMNS,
        "disparities": DISPARITY_COLUMNS,
        "calibration": CALIBRATION_COLUMNS,
    }
    score, label, true_label = names
    return AuditResult(
        score=score,
        label=label,
        true_label=true_label,
        n=int(scores.size),
        operating_point=point_op,
        settings=settings,
        groupings=tuple(infos),
        bins=bin_table,
        **{
            k: _table(_records(pd.DataFrame(v, columns=columns[k])), columns[k])
            for k, v in tables.items()
        },
    )
