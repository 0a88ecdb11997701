"""The overview's figure: each group's disproportionality ratio over the snapshots.

Drawing only: the page (:mod:`governance.overview_report`) chooses the rows, the words and
the alt text, and embeds the figure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fairness.plots import BAND_COLOUR, ratio_axis

__all__ = ["trend_figure"]


def trend_figure(
    g: pd.DataFrame,
    *,
    tolerance: tuple[float, float],
    title: str,
    date_label: Callable[[Any], str],
) -> Figure:
    """Each group's ratio (log scale) with its interval at each snapshot, over the band.

    Parameters
    ----------
    g : pandas.DataFrame
        One model's and grouping's rows of :attr:`Overview.groups`; missing ratios are not
        drawn.
    tolerance : (float, float)
        The band, shaded.
    title : str
    date_label : callable
        Each snapshot date's tick label.
    """
    groups = list(dict.fromkeys(g["group"]))
    dates = sorted(g["snapshot_date"].unique())
    lo, hi = tolerance
    fig = Figure(figsize=(8.5, 4.2))
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.09, right=0.75, bottom=0.16, top=0.88)
    ax = fig.add_subplot()
    ax.axhspan(lo, hi, color=BAND_COLOUR, zorder=0, label=f"band {lo:g}-{hi:g}")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    x = {d: i for i, d in enumerate(dates)}
    shift = np.linspace(-0.12, 0.12, max(len(groups), 1))
    for k, group in enumerate(groups):
        rows = g[(g["group"] == group) & g["ratio"].notna()]
        if rows.empty:
            continue
        xs = np.array([x[d] for d in rows["snapshot_date"]]) + shift[k]
        ratio = rows["ratio"].to_numpy(float)
        err = [
            np.clip(ratio - rows["ratio_low"].to_numpy(float), 0, None),
            np.clip(rows["ratio_high"].to_numpy(float) - ratio, 0, None),
        ]
        ax.errorbar(
            xs, ratio, yerr=err, marker="o", markersize=4, capsize=2, linewidth=1.2, label=group
        )
    ratio_axis(ax, lo, hi, which="y")
    ax.set_xticks(range(len(dates)), [date_label(d) for d in dates], rotation=30, fontsize=8)
    ax.set_ylabel("share of flagged / share of children")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return fig
