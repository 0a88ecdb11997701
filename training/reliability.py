"""Reliability: mean prediction against the observed rate per bin, as a table and a plot."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fairness.stats import wilson_interval
from training.metrics import Strategy, as_arrays

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def reliability_table(y, p, bins: int = 10, strategy: Strategy = "quantile") -> pd.DataFrame:
    """Mean prediction against observed rate per bin, with a Wilson 95% interval.

    Bins are those of :func:`expected_calibration_error`; empty bins are left out, so
    ``sum(n / n.sum() * |observed_rate - mean_predicted|)`` is the ECE.

    Parameters
    ----------
    y : array-like of {0, 1}
        Outcomes.
    p : array-like of float
        Predicted probabilities.
    bins : int, default 10
        Number of bins.
    strategy : {"quantile", "uniform"}, default "quantile"
        Equal-count or equal-width bins.

    Returns
    -------
    pandas.DataFrame
        Columns ``bin``, ``n``, ``mean_predicted``, ``observed_rate``, ``observed_low``,
        ``observed_high``; one row per non-empty bin, lowest scores first.
    """
    y, p = as_arrays(y, p)
    if strategy == "quantile":
        edges = np.quantile(p, np.linspace(0.0, 1.0, bins + 1))
    elif strategy == "uniform":
        edges = np.linspace(0.0, 1.0, bins + 1)
    else:
        raise ValueError(f"strategy must be 'quantile' or 'uniform', got {strategy!r}")
    which = np.searchsorted(edges[1:-1], p, side="right")
    frame = pd.DataFrame({"bin": which, "y": y, "p": p})
    table = frame.groupby("bin").agg(
        n=("y", "size"), events=("y", "sum"), mean_predicted=("p", "mean")
    )
    table["observed_rate"] = table["events"] / table["n"]
    table["observed_low"], table["observed_high"] = wilson_interval(table["events"], table["n"])
    return table.drop(columns="events").reset_index()


def reliability_plot(tables: Mapping[str, pd.DataFrame], title: str) -> Figure:
    """Reliability diagram of several models, with the diagonal of perfect calibration.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        :func:`reliability_table` of each model, by the name shown in the legend.
    title : str
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        A figure on the non-interactive Agg canvas (no pyplot, no global backend change);
        save it with ``fig.savefig``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 6))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    top = max(
        [0.0] + [max(t["mean_predicted"].max(), t["observed_high"].max()) for t in tables.values()]
    )
    limit = min(1.0, top * 1.05) if top > 0 else 1.0
    ax.plot([0, limit], [0, limit], linestyle="--", color="grey", label="perfectly calibrated")
    for name, table in tables.items():
        err = [
            table["observed_rate"] - table["observed_low"],
            table["observed_high"] - table["observed_rate"],
        ]
        ax.errorbar(
            table["mean_predicted"],
            table["observed_rate"],
            yerr=err,
            marker="o",
            capsize=3,
            label=name,
        )
    ax.set_xlim(0, limit)
    ax.set_ylim(0, limit)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed rate (95% Wilson interval)")
    ax.set_title(title)
    ax.legend(loc="upper left")
    return fig
