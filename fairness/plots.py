"""Figures of an audit, drawn from its result and embedded in the report as base64 PNG.

Every figure plots numbers the :class:`~fairness.result.AuditResult` holds; nothing is
computed here. Suppressed numbers are not drawn, and the figure says so.
Figures use matplotlib's Agg canvas directly (no pyplot, no global backend change).
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullLocator

from fairness.policy import LABELS
from fairness.result import ANY, AuditResult

FLAG_COLOUR = "#b2182b"
OK_COLOUR = "#2166ac"
TRUE_COLOUR = "#5aae61"
BAND_COLOUR = "#e0e0e0"


def data_uri(fig: Figure) -> str:
    """The figure as a ``data:image/png;base64,...`` URI (the figure is then released)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(width: float, height: float, labels: tuple[str, ...] = ()) -> Figure:
    """A figure with margins fixed in inches (left wide enough for ``labels``).

    Margins are set rather than fitted (``bbox_inches="tight"`` draws every figure twice,
    which was most of the report's rendering time).
    """
    left = 0.6 + 0.075 * max((len(x) for x in labels), default=0)
    fig = Figure(figsize=(width + left, height))
    FigureCanvasAgg(fig)
    fig.subplots_adjust(
        left=left / (width + left),
        right=1 - 0.2 / (width + left),
        bottom=0.75 / height,
        top=1 - 0.75 / height,
        wspace=0.15,
    )
    return fig


def disparity_figure(
    result: AuditResult, grouping: str, metrics: list[str], outcomes: list[str]
) -> Figure:
    """Ratio to the reference group, with its interval, against the tolerance band.

    One panel per metric, one row per group (log scale). Flagged ratios are red; suppressed
    ones are marked "suppressed" with no point. With two outcomes, the true outcome's ratio
    is drawn (green) just below the recorded one.
    """
    info = result.grouping(grouping)
    groups = list(info.groups)
    lo_band, hi_band = result.settings.tolerance
    ticks = tuple(_tick(g, info.reference) for g in groups)
    fig = _figure(3.0 * len(metrics), 0.38 * len(groups) + 1.8, ticks)
    axes = fig.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
    d = result.disparities[result.disparities["grouping"] == grouping]
    for ax, metric in zip(axes, metrics, strict=True):
        ax.axvspan(lo_band, hi_band, color=BAND_COLOUR, zorder=0, label="tolerance band")
        ax.axvline(1.0, color="grey", linewidth=0.8)
        for k, outcome in enumerate(outcomes):
            rows = d[(d["metric"] == metric) & d["outcome"].isin([ANY, outcome])]
            if k and rows["outcome"].eq(ANY).all():
                continue
            _ratio_points(ax, rows.set_index("group").reindex(groups), k * 0.3, outcome, k)
        ratio_axis(ax, lo_band, hi_band)
        ax.set_title(LABELS[metric], fontsize=10)
        ax.set_xlabel(f"ratio to {info.reference}")
        ax.set_ylim(len(groups) - 0.5, -0.7)
    axes[0].set_yticks(range(len(groups)), list(ticks))
    fig.suptitle(f"{grouping}: ratio to the reference group (band {lo_band:g}-{hi_band:g})")
    return fig


RATIO_TICKS = (0.1, 0.25, 0.5, 0.8, 1.0, 1.25, 2.0, 4.0, 10.0)


def ratio_axis(ax, lo_band: float, hi_band: float, which: str = "x") -> None:
    """A log axis (``which`` "x" or "y") showing plain ratios (0.5, 0.8, 1, 1.25, 2...)
    around the band."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    set_scale, get_lim, set_lim, set_ticks = (
        (ax.set_xscale, ax.get_xlim, ax.set_xlim, ax.set_xticks)
        if which == "x"
        else (ax.set_yscale, ax.get_ylim, ax.set_ylim, ax.set_yticks)
    )
    set_scale("log")
    lo, hi = get_lim()
    lo, hi = min(lo, lo_band / 1.15), max(hi, hi_band * 1.15)
    set_lim(lo, hi)
    set_ticks([x for x in RATIO_TICKS if lo <= x <= hi])
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(NullLocator())


def _tick(group: str, reference: str) -> str:
    return f"{group} (reference)" if group == reference else group


def _ratio_points(ax, rows: pd.DataFrame, offset: float, outcome: str, k: int) -> None:
    """Points and intervals of one outcome's ratios; text where suppressed."""
    y = np.arange(len(rows)) + offset
    shown = ~rows["suppressed"].astype(bool).to_numpy() & rows["ratio"].notna().to_numpy()
    flag = rows["flag"].astype(bool).to_numpy()
    for mask, colour in (
        (shown & ~flag, OK_COLOUR if k == 0 else TRUE_COLOUR),
        (shown & flag, FLAG_COLOUR),
    ):
        if not mask.any():
            continue
        r = rows[mask]
        lo = (r["ratio"] - r["low"]).clip(lower=0).fillna(0)
        hi = (r["high"] - r["ratio"]).clip(lower=0).fillna(0)
        ax.errorbar(
            r["ratio"],
            y[mask],
            xerr=[lo, hi],
            fmt="o" if k == 0 else "^",
            color=colour,
            capsize=2,
            markersize=4,
            linewidth=1,
            label=outcome,
        )
    for i in np.flatnonzero(~shown & (k == 0)):
        ax.text(1.0, y[i], "suppressed", fontsize=7, ha="center", va="center", color="grey")


def composition_figure(result: AuditResult, grouping: str) -> Figure:
    """Each group's share of everyone audited beside its share of everyone flagged."""
    info = result.grouping(grouping)
    m = result.metrics[result.metrics["grouping"] == grouping]
    pop = m[m["metric"] == "population_share"].set_index("group")["value"].reindex(info.groups)
    flagged = m[m["metric"] == "flagged_share"].set_index("group")["value"].reindex(info.groups)
    y = np.arange(len(info.groups))
    fig = _figure(5.5, 0.35 * len(info.groups) + 1.8, info.groups)
    ax = fig.add_subplot()
    ax.barh(y - 0.2, pop.fillna(0), height=0.4, color="#999999", label="share of everyone audited")
    ax.barh(y + 0.2, flagged.fillna(0), height=0.4, color=OK_COLOUR, label="share of those flagged")
    for i in np.flatnonzero(pop.isna().to_numpy()):
        ax.text(0.0, y[i], " suppressed", fontsize=7, va="center", color="grey")
    ax.set_yticks(y, list(info.groups))
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    fig.suptitle(f"{grouping}: who is flagged, against who is audited")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8, frameon=False)
    return fig


def calibration_figure(result: AuditResult, grouping: str, outcome: str) -> Figure:
    """Observed rate against mean score in each score bin, one line per group."""
    info = result.grouping(grouping)
    c = result.calibration
    c = c[(c["grouping"] == grouping) & (c["outcome"] == outcome) & ~c["suppressed"]]
    fig = _figure(5.5, 5.0, ("0.00",))
    ax = fig.add_subplot()
    probability = bool(result.bins["lowest"].min() >= 0 and result.bins["highest"].max() <= 1)
    if probability:
        top = float(np.nanmax([c["high"].max(), c["mean_score"].max(), 0.05]))
        ax.plot([0, top], [0, top], linestyle="--", color="grey", label="perfectly calibrated")
    for group in info.groups:
        rows = c[c["group"] == group]
        if rows.empty:
            continue
        err = [
            (rows["observed"] - rows["low"]).clip(lower=0),
            (rows["high"] - rows["observed"]).clip(lower=0),
        ]
        ax.errorbar(
            rows["mean_score"],
            rows["observed"],
            yerr=err,
            marker="o",
            markersize=3,
            capsize=2,
            linewidth=1,
            label=group,
        )
    ax.set_xlabel("mean score in the bin" + (" (predicted probability)" if probability else ""))
    ax.set_ylabel(f"observed rate ({outcome} outcome)")
    ax.set_title(f"{grouping}: calibration by score bin ({outcome} outcome)")
    ax.legend(fontsize=7, loc="upper left")
    return fig


def gated_figure(rows: pd.DataFrame, band: tuple[float, float], title: str) -> Figure:
    """The ratios a gate judged, one row per group, one panel per metric, against the band.

    ``rows`` holds the judged disparity rows (``grouping``, ``group``, ``metric``,
    ``ratio``, ``low``, ``high``) and a ``fails`` column: red where the ratio fails the gate,
    blue where it passes.
    """
    metrics = list(dict.fromkeys(rows["metric"]))
    labels = list(dict.fromkeys(_gated_label(r) for r in rows.itertuples(index=False)))
    fig = _figure(3.2 * len(metrics), 0.26 * len(labels) + 1.6, tuple(labels))
    axes = fig.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
    where = {label: i for i, label in enumerate(labels)}
    for ax, metric in zip(axes, metrics, strict=True):
        ax.axvspan(*band, color=BAND_COLOUR, zorder=0)
        ax.axvline(1.0, color="grey", linewidth=0.8)
        mine = rows[rows["metric"] == metric]
        for fails, colour in ((False, OK_COLOUR), (True, FLAG_COLOUR)):
            r = mine[mine["fails"].astype(bool) == fails]
            if r.empty:
                continue
            y = [where[_gated_label(x)] for x in r.itertuples(index=False)]
            ax.errorbar(
                r["ratio"],
                y,
                xerr=[
                    (r["ratio"] - r["low"]).clip(lower=0),
                    (r["high"] - r["ratio"]).clip(lower=0),
                ],
                fmt="o",
                color=colour,
                capsize=2,
                markersize=3.5,
                linewidth=1,
            )
        ratio_axis(ax, *band)
        ax.set_title(LABELS[metric], fontsize=10)
        ax.set_xlabel("ratio to the reference group")
        ax.set_ylim(len(labels) - 0.5, -0.7)
    axes[0].set_yticks(range(len(labels)), labels, fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


def _gated_label(row) -> str:
    return f"{row.grouping}: {row.group}"
