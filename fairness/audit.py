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
number comes from one weighted engine (:mod:`fairness.weighted`): the point estimate is a
replicate with every weight 1, and the tests check the numbers against ``MetricFrame``,
scikit-learn and plain pandas.

The bootstrap resamples rows (or whole clusters, e.g. a child's several snapshots) with their
flag held fixed: the audit is of the decisions as made, and the interval says how precisely
the data pin down each group's rates under them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from fairness.groups import Grouping, make_groupings, reference_of
from fairness.result import (
    ANY,
    CALIBRATION_COLUMNS,
    DISPARITY_COLUMNS,
    GROUP_COLUMNS,
    LABEL_FREE,
    LABELLED,
    METRIC_COLUMNS,
    NEEDS,
    OVERALL,
    RATIO_METRICS,
    RECORDED,
    RECORDING,
    TRUE,
    TRUE_ONLY,
    AuditResult,
    AuditSettings,
    GroupingInfo,
    _records,
    _table,
)
from fairness.stats import percentile_interval, ratio
from fairness.threshold import operating_point, score_bins
from fairness.weighted import CellSums, RankedCells, replicate_chunks, unit_weights

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
