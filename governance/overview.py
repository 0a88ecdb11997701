"""The partnership overview: who each model flags, by group, over the last two years.

:func:`partnership_overview` is a pure computation. Given the feature table, each model's
scores for its rows, each team's capacity and (optionally) each champion's fairness audit, it
returns one :class:`Overview` of tidy tables:

- ``snapshots``: per model and snapshot date, the children in the cohort, how many are flagged
  at the team's capacity (the highest-scored), and the recorded base rate where the outcome
  window has closed;
- ``groups``: per model, snapshot, grouping (area, age band, sex, ethnicity, SEND) and group,
  the group's size, flags and recorded outcomes, and its *disproportionality ratio*: its share
  of the flagged children over its share of the cohort (equivalently, its flag rate over
  everyone's), with a Wilson interval; the same ratio for recorded outcomes beside it;
- ``changes``: how far each group's ratio moved between the latest snapshot and the snapshots
  ``quarters // 2`` and ``quarters`` quarters before it, with an interval;
- ``audit``: the champion's fairness audit rows the overview shows (every recording disparity,
  and every ratio the audit flagged), from its ``lantern.fairness/1`` document;
- ``highlights``: what the page marks, by three rules (see :class:`Overview`);
- ``suppression``: how many groups and cells of the latest snapshot are suppressed.

Every snapshot is scored by today's model, so a change over time comes from the children's
records, not from a change of model. :func:`governance.overview_store.overview_for_partnership` is the
edge that reads the feature table and the champions from MLflow; the result and its settings
are :mod:`governance.overview_result`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from governance.overview_result import (
    AGE_BANDS,
    GROUPINGS,
    MISSING,
    RECORDING,
    REQUIRED,
    Overview,
    OverviewSettings,
)


def age_band(age: pd.Series) -> pd.Categorical:
    """Each age (whole years) as its band of :data:`AGE_BANDS`; missing stays missing."""
    edges = [lo for lo, _ in AGE_BANDS[1:]]
    labels = [label for _, label in AGE_BANDS]
    codes = np.searchsorted(edges, np.floor(age.to_numpy(dtype=float)), side="right")
    codes = np.where(age.isna().to_numpy(), -1, codes)
    return pd.Categorical.from_codes(codes, categories=labels)


def _group_column(values: pd.Series) -> pd.Categorical:
    """Group labels as an ordered categorical: categories keep their order, text is sorted,
    and a missing value is :data:`MISSING`, last."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = [str(c) for c in values.cat.categories]
    else:
        categories = sorted({str(v) for v in values.dropna().unique()})
    text = values.astype(object).where(values.notna(), MISSING).astype(str)
    if (text == MISSING).any() and MISSING not in categories:
        categories.append(MISSING)
    present = set(text.unique())
    return pd.Categorical(text, categories=[c for c in categories if c in present])


def _check_inputs(table: pd.DataFrame, scores: Mapping, capacities: Mapping) -> None:
    missing = [c for c in REQUIRED if c not in table]
    if missing:
        raise ValueError(
            f"the feature table lacks columns {missing}; build it with `lantern features`, "
            "which writes the snapshot date, the audit columns and age_years"
        )
    if not scores:
        raise ValueError("no model's scores were given: score the table with at least one model")
    if set(scores) != set(capacities):
        raise ValueError(
            f"capacities name models {sorted(capacities)} but scores name {sorted(scores)}; "
            "give one capacity (share or count) per scored model"
        )
    for model, values in scores.items():
        values = np.asarray(values, dtype=float)
        if values.shape != (len(table),):
            raise ValueError(
                f"scores of {model} have shape {values.shape}, but the table has {len(table)} "
                "rows: give one score per row, in the table's order"
            )
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise ValueError(
                f"scores of {model} are missing or not finite at row {int(bad[0])} "
                f"({bad.size} rows in all); score every row"
            )
        cap = capacities[model]
        if not ((0 < cap < 1) or (cap >= 1 and float(cap).is_integer())):
            raise ValueError(
                f"capacity of {model} is {cap}: give a share of the cohort in (0, 1) or a "
                "whole number of children"
            )


def _flags(dates: np.ndarray, scores: np.ndarray, capacity: float, seed: int) -> np.ndarray:
    """Who is flagged at each snapshot: the ``capacity`` highest-scored children of its
    cohort (ties at the cut chosen at random, as the fairness audit does)."""
    from fairness.threshold import operating_point

    flagged = np.zeros(len(scores), dtype=bool)
    for t in np.unique(dates):
        rows = np.flatnonzero(dates == t)
        flagged[rows], _ = operating_point(scores[rows], top_k=capacity, seed=seed)
    return flagged


def _rate_interval(events, n, z: float) -> tuple[np.ndarray, np.ndarray]:
    from fairness.stats import wilson_interval

    n = np.asarray(n, dtype=float)
    safe = np.where(n > 0, n, 1.0)
    low, high = wilson_interval(np.asarray(events, dtype=float), safe, z=z)
    return np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


# --------------------------------------------------------------------------- the computation


def _model_frame(
    table: pd.DataFrame,
    dates: np.ndarray,
    groups: dict[str, pd.Categorical],
    flagged: np.ndarray,
    label: str,
) -> pd.DataFrame:
    known = table[label].notna().to_numpy() if label in table else np.zeros(len(table), bool)
    positive = (table[label].fillna(0).to_numpy() == 1) if label in table else known
    return pd.DataFrame(
        {
            "snapshot_date": dates,
            "flagged": flagged.astype(int),
            "labelled": known.astype(int),
            "positives": (positive & known).astype(int),
            **groups,
        }
    )


def _snapshot_totals(frame: pd.DataFrame) -> pd.DataFrame:
    totals = frame.groupby("snapshot_date", sort=True).agg(
        children=("flagged", "size"),
        flagged=("flagged", "sum"),
        labelled=("labelled", "sum"),
        positives=("positives", "sum"),
    )
    totals["share_flagged"] = totals["flagged"] / totals["children"]
    totals["base_rate"] = (totals["positives"] / totals["labelled"]).where(totals["labelled"] > 0)
    return totals.reset_index()


def _group_table(
    frame: pd.DataFrame, totals: pd.DataFrame, grouping: str, s: OverviewSettings
) -> pd.DataFrame:
    """One grouping's figures per snapshot, with suppression applied."""
    m = s.min_cell
    g = (
        frame.groupby(["snapshot_date", grouping], observed=True, sort=True)
        .agg(
            n=("flagged", "size"),
            flagged=("flagged", "sum"),
            labelled=("labelled", "sum"),
            positives=("positives", "sum"),
        )
        .reset_index()
        .rename(columns={grouping: "group"})
    )
    g["group"] = g["group"].astype(str)
    all_ = totals.set_index("snapshot_date").reindex(g["snapshot_date"])
    N, K = all_["children"].to_numpy(float), all_["flagged"].to_numpy(float)
    L, P = all_["labelled"].to_numpy(float), all_["positives"].to_numpy(float)
    n, f = g["n"].to_numpy(float), g["flagged"].to_numpy(float)
    lab, pos = g["labelled"].to_numpy(float), g["positives"].to_numpy(float)
    overall_flag = np.divide(K, N, out=np.full_like(K, np.nan), where=N > 0)
    overall_base = np.divide(P, L, out=np.full_like(P, np.nan), where=L > 0)
    flag_rate = f / n
    low, high = _rate_interval(f, n, s.z)
    base = np.divide(pos, lab, out=np.full_like(pos, np.nan), where=lab > 0)
    b_low, b_high = _rate_interval(pos, lab, s.z)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = pd.DataFrame(
            {
                "snapshot_date": g["snapshot_date"],
                "grouping": grouping,
                "group": g["group"],
                "n": g["n"],
                "population_share": n / N,
                "flagged": g["flagged"],
                "flagged_share": np.divide(f, K, out=np.full_like(f, np.nan), where=K > 0),
                "flag_rate": flag_rate,
                "ratio": flag_rate / overall_flag,
                "ratio_low": low / overall_flag,
                "ratio_high": high / overall_flag,
                "labelled": g["labelled"],
                "positives": g["positives"],
                "base_rate": base,
                "base_rate_ratio": base / overall_base,
                "base_rate_low": b_low / overall_base,
                "base_rate_high": b_high / overall_base,
            }
        )
    small = out["n"] < m
    flag_reason = np.where(small, "group_size", np.where(out["flagged"] < m, "flagged", None))
    base_reason = np.where(
        small,
        "group_size",
        np.where(
            out["labelled"] == 0,
            "not_yet_known",
            np.where(
                out["labelled"] < m, "group_size", np.where(out["positives"] < m, "positives", None)
            ),
        ),
    )
    out["suppressed"] = small.to_numpy()
    out["flag_reason"] = pd.array(flag_reason, dtype="string")
    out["base_reason"] = pd.array(base_reason, dtype="string")
    hide_group = ["n", "population_share"]
    hide_flags = ["flagged", "flagged_share", "flag_rate", "ratio", "ratio_low", "ratio_high"]
    hide_base = ["labelled", "positives", "base_rate", "base_rate_ratio"]
    hide_base += ["base_rate_low", "base_rate_high"]
    for col in ["n", "flagged", "labelled", "positives"]:
        out[col] = out[col].astype("Int64")
    out.loc[small, hide_group] = pd.NA
    out.loc[out["flag_reason"].notna().to_numpy(), hide_flags] = pd.NA
    # "Not yet known" is an absence, not a suppression: its counts (0 labelled) stay.
    out.loc[out["base_reason"].isin(["group_size", "positives"]).to_numpy(), hide_base] = pd.NA
    lo_band, hi_band = s.tolerance
    out["standing"] = (
        ((out["ratio_low"] > hi_band) | (out["ratio_high"] < lo_band)).fillna(False).astype(bool)
    )
    return out


def _changes(groups: pd.DataFrame, model: str, latest: pd.Timestamp, s: OverviewSettings):
    """The latest ratio of each group against the ratio ``lag`` quarters before."""
    now = groups[groups["snapshot_date"] == latest].set_index(["grouping", "group"])
    dates = set(groups["snapshot_date"])
    lo_band, hi_band = s.tolerance
    rows = []
    for lag in s.lags:
        since = latest - pd.DateOffset(months=3 * lag)
        then = groups[groups["snapshot_date"] == since].set_index(["grouping", "group"])
        for key in now.index.union(then.index, sort=False):
            a = then.loc[key] if key in then.index else None
            b = now.loc[key] if key in now.index else None
            row = {
                "model": model,
                "grouping": key[0],
                "group": key[1],
                "quarters_back": lag,
                "since": since,
                "ratio_then": np.nan,
                "ratio_now": np.nan,
                "change": np.nan,
                "low": np.nan,
                "high": np.nan,
                "highlight": False,
                "direction": None,
                "reason": None,
            }
            if since not in dates:
                row["reason"] = "no_snapshot"
                rows.append(row)
                continue
            reason = _missing_reason(a) or _missing_reason(b)
            if reason:
                row["reason"] = reason
                row["ratio_then"] = np.nan if a is None else a["ratio"]
                row["ratio_now"] = np.nan if b is None else b["ratio"]
                rows.append(row)
                continue
            change = float(b["ratio"]) / float(a["ratio"])
            # Delta method on log rates; the two snapshots are treated as independent, which
            # overstates the spread (the same children recur), so the interval is cautious.
            spread = s.z * math.sqrt(_log_var(a) + _log_var(b))
            low, high = change * math.exp(-spread), change * math.exp(spread)
            row |= {
                "ratio_then": float(a["ratio"]),
                "ratio_now": float(b["ratio"]),
                "change": change,
                "low": low,
                "high": high,
                "highlight": bool(low > hi_band or high < lo_band),
                "direction": "rise" if change > 1 else "fall",
            }
            rows.append(row)
    return rows


def _missing_reason(row: pd.Series | None) -> str | None:
    if row is None:
        return "group_size"
    return None if pd.isna(row["flag_reason"]) else str(row["flag_reason"])


def _log_var(row: pd.Series) -> float:
    """Variance of the log of a flag rate: (1 - p) / (n p) = 1/flagged - 1/n."""
    return 1.0 / float(row["flagged"]) - 1.0 / float(row["n"])


AUDIT_COLUMNS = [
    "model",
    "grouping",
    "group",
    "reference",
    "metric",
    "outcome",
    "ratio",
    "low",
    "high",
    "flag",
    "suppressed",
    "reason",
    "kind",
    "alert",
]


def audit_rows(document: Mapping[str, Any], model: str) -> pd.DataFrame:
    """The rows of a champion's fairness audit that the overview shows.

    Every recording disparity (recorded / true base rate against the reference group; only
    audits given true outcomes have them) and every other ratio the audit flagged. ``kind``
    is "recording", "policy" (a flag the audit's policy failed or would fail the model on)
    or "other"; ``alert`` is a flagged recording disparity or policy flag.

    Raises
    ------
    ValueError
        If the document is not a ``lantern.fairness/1`` audit.
    """
    from fairness.result import SCHEMA as FAIRNESS_SCHEMA

    if document.get("schema") != FAIRNESS_SCHEMA:
        raise ValueError(
            f"the fairness audit of {model} has schema {document.get('schema')!r}, not "
            f"{FAIRNESS_SCHEMA!r}: re-run `lantern audit --model {model}`"
        )
    verdict = document.get("verdict") or {}
    policy = {
        (f["grouping"], f["group"], f["metric"], f["outcome"]) for f in verdict.get("flags", [])
    }
    rows = []
    for d in document.get("disparities", []):
        key = (d["grouping"], d["group"], d["metric"], d["outcome"])
        if d["metric"] != RECORDING and not d["flag"]:
            continue
        if d["metric"] == RECORDING and d["group"] == d["reference"]:
            continue
        kind = "recording" if d["metric"] == RECORDING else "policy" if key in policy else "other"
        rows.append(
            {
                "model": model,
                **{c: d.get(c) for c in AUDIT_COLUMNS[1:12]},
                "kind": kind,
                "alert": bool(d["flag"] and kind in ("recording", "policy")),
            }
        )
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS).astype(
        {"ratio": float, "low": float, "high": float, "flag": bool, "alert": bool}
    )


def _audit_meta(document: Mapping[str, Any] | None) -> dict[str, Any]:
    if document is None:
        return {
            "audit_title": None,
            "audit_source": None,
            "audit_generated_at": None,
            "audit_passed": None,
            "audit_reasons": (),
            "audit_policy": (),
            "audit_true_outcomes": False,
            "audit_recording_n": None,
        }
    context = document.get("context") or {}
    verdict = document.get("verdict") or {}
    return {
        "audit_title": context.get("title"),
        "audit_source": context.get("source"),
        "audit_generated_at": document.get("generated_at"),
        "audit_passed": verdict.get("passed"),
        "audit_reasons": tuple(verdict.get("reasons") or ()),
        "audit_policy": tuple((verdict.get("policy") or {}).get("metrics") or ()),
        "audit_true_outcomes": bool(document.get("true_label")),
        "audit_recording_n": document.get("recording_n"),
    }


HIGHLIGHT_COLUMNS = [
    "model",
    "grouping",
    "group",
    "kind",
    "alert",
    "metric",
    "outcome",
    "reference",
    "ratio",
    "low",
    "high",
    "quarters_back",
    "since",
    "ratio_then",
    "ratio_now",
    "direction",
    "base_rate_ratio",
    "base_rate_low",
    "base_rate_high",
    "base_rate_date",
]


def _highlights(
    models: pd.DataFrame,
    groups: pd.DataFrame,
    changes: pd.DataFrame,
    audit: pd.DataFrame,
    latest: dict,
    known: dict,
) -> pd.DataFrame:
    rows = [
        {"model": m["model"], "kind": "verdict", "alert": True}
        for _, m in models.iterrows()
        if not pd.isna(m["audit_passed"]) and not m["audit_passed"]
    ]
    for _, c in changes[changes["highlight"]].iterrows():
        rows.append(
            {
                **c[["model", "grouping", "group", "quarters_back", "since", "direction"]],
                "kind": "change",
                "alert": True,
                "metric": "disproportionality",
                "ratio": c["change"],
                "low": c["low"],
                "high": c["high"],
                "ratio_then": c["ratio_then"],
                "ratio_now": c["ratio_now"],
            }
        )
    at = groups.set_index(["model", "snapshot_date", "grouping", "group"])
    for _, g in groups[groups["standing"]].iterrows():
        if g["snapshot_date"] != latest[g["model"]]:
            continue
        base = {}
        when = known.get(g["model"])
        key = (g["model"], when, g["grouping"], g["group"])
        if when is not None and key in at.index:
            b = at.loc[key]
            base = {
                "base_rate_ratio": b["base_rate_ratio"],
                "base_rate_low": b["base_rate_low"],
                "base_rate_high": b["base_rate_high"],
                "base_rate_date": when,
            }
        rows.append(
            {
                **g[["model", "grouping", "group"]],
                "kind": "standing",
                "alert": False,
                "metric": "disproportionality",
                "ratio": g["ratio"],
                "low": g["ratio_low"],
                "high": g["ratio_high"],
                "direction": "above" if g["ratio"] > 1 else "below",
                **base,
            }
        )
    for _, a in audit[audit["flag"]].iterrows():
        rows.append(
            {
                **a[["model", "grouping", "group", "metric", "outcome", "reference"]],
                "kind": "audit",
                "alert": a["alert"],
                "ratio": a["ratio"],
                "low": a["low"],
                "high": a["high"],
                "direction": "above" if a["ratio"] > 1 else "below",
            }
        )
    out = pd.DataFrame(rows, columns=HIGHLIGHT_COLUMNS)
    out["alert"] = out["alert"].astype(bool)
    order = {"verdict": 0, "change": 1, "audit": 2, "standing": 3}
    return out.sort_values(
        ["alert", "kind", "model", "grouping", "group"],
        ascending=[False, True, True, True, True],
        key=lambda col: col.map(order) if col.name == "kind" else col,
        kind="stable",
    ).reset_index(drop=True)


def _suppression(groups: pd.DataFrame, latest: dict, known: dict) -> pd.DataFrame:
    rows = []
    for (model, grouping), g in groups.groupby(["model", "grouping"], sort=False):
        now = g[g["snapshot_date"] == latest[model]]
        then = g[g["snapshot_date"] == known[model]] if known[model] is not None else g[:0]
        rows.append(
            {
                "model": model,
                "grouping": grouping,
                "snapshot_date": latest[model],
                "groups": len(now),
                "groups_suppressed": int(now["suppressed"].sum()),
                "flag_cells_suppressed": int(now["flag_reason"].notna().sum()),
                "known_date": known[model],
                "base_cells_suppressed": int(
                    then["base_reason"].isin(["group_size", "positives"]).sum()
                ),
            }
        )
    return pd.DataFrame(rows)


def partnership_overview(
    table: pd.DataFrame,
    scores: Mapping[str, np.ndarray],
    capacities: Mapping[str, float],
    *,
    audits: Mapping[str, Mapping[str, Any] | None] | None = None,
    sources: Mapping[str, str] | None = None,
    tolerance: tuple[float, float] = (0.8, 1.25),
    min_cell: int = 10,
    quarters: int = 8,
    level: float = 0.95,
    seed: int = 0,
    notes: Sequence[str] = (),
) -> Overview:
    """The partnership overview of a feature table scored by each model.

    Parameters
    ----------
    table : pandas.DataFrame
        The feature table (:func:`features.build.build_features`): ``snapshot_date``,
        ``age_years``, the audit columns and, where known, ``label_<model>``.
    scores : mapping of str to ndarray
        Each model's score for every row of ``table``, in its order.
    capacities : mapping of str to float
        Each model's team capacity: a share of the cohort in (0, 1), or a number of children.
    audits : mapping of str to dict, optional
        Each model's latest fairness audit (a ``lantern.fairness/1`` document), or None.
    sources : mapping of str to str, optional
        What scored each model, in words (e.g. "serious_violence v3, champion").
    tolerance, min_cell, quarters, level, seed
        See :class:`OverviewSettings`.
    notes : sequence of str
        Notes for the reader (e.g. a model that has no champion).

    Returns
    -------
    Overview

    Raises
    ------
    ValueError
        If a column, a score or a capacity is missing or wrong; the message says which.
    """
    from features.build import label_column

    s = OverviewSettings(
        tolerance=tolerance, min_cell=min_cell, quarters=quarters, level=level, seed=seed
    )
    _check_inputs(table, scores, capacities)
    audits = dict(audits or {})
    dates = pd.to_datetime(table["snapshot_date"])
    latest_date = dates.max()
    start = latest_date - pd.DateOffset(months=3 * s.quarters)
    window = (dates >= start).to_numpy()
    part = table.loc[window]
    part_dates = dates[window].to_numpy()
    group_cols = {
        "area": _group_column(part["area"]),
        "age_band": age_band(part["age_years"]),
        "sex": _group_column(part["sex"]),
        "ethnicity": _group_column(part["ethnicity"]),
        "send": _group_column(part["send"]),
    }
    snapshot_rows, group_rows, change_rows, audit_frames, model_rows = [], [], [], [], []
    latest, known = {}, {}
    for model, values in scores.items():
        values = np.asarray(values, dtype=float)[window]
        flagged = _flags(part_dates, values, capacities[model], s.seed)
        frame = _model_frame(part, part_dates, group_cols, flagged, label_column(model))
        totals = _snapshot_totals(frame)
        totals.insert(0, "model", model)
        snapshot_rows.append(totals)
        groups = pd.concat([_group_table(frame, totals, g, s) for g in GROUPINGS])
        groups.insert(0, "model", model)
        group_rows.append(groups)
        latest[model] = totals["snapshot_date"].max()
        labelled = totals.loc[totals["labelled"] > 0, "snapshot_date"]
        known[model] = labelled.max() if len(labelled) else None
        change_rows += _changes(groups, model, latest[model], s)
        document = audits.get(model)
        if document is not None:
            audit_frames.append(audit_rows(document, model))
        model_rows.append(
            {
                "model": model,
                "source": (sources or {}).get(model),
                "capacity": float(capacities[model]),
                "first_snapshot": totals["snapshot_date"].min(),
                "latest_snapshot": latest[model],
                "latest_known": known[model],
                **_audit_meta(document),
            }
        )
    groups = pd.concat(group_rows, ignore_index=True)
    changes = pd.DataFrame(change_rows)
    audit = (
        pd.concat(audit_frames, ignore_index=True)
        if audit_frames
        else pd.DataFrame(columns=AUDIT_COLUMNS).astype({"flag": bool, "alert": bool})
    )
    try:
        generator = f"lantern {metadata.version('lantern')}"
    except metadata.PackageNotFoundError:
        generator = "lantern"
    models = pd.DataFrame(model_rows)
    return Overview(
        settings=s,
        models=models,
        snapshots=pd.concat(snapshot_rows, ignore_index=True),
        groups=groups,
        changes=changes,
        audit=audit,
        highlights=_highlights(models, groups, changes, audit, latest, known),
        suppression=_suppression(groups, latest, known),
        notes=tuple(notes),
        generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        generator=generator,
    )
