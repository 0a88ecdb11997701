"""The label-bias check on a partnership's extracts: each outcome's cross-agency record pairs.

An outcome's ``cross_checks`` (``features/outcomes.yaml``) name two agencies' records of the
same harm; :func:`check_label_bias` selects them from the extracts over the last
``years`` years and compares them by group with :func:`fairness.triangulation.triangulate`.
It reads the recorded data only: no ground truth, no model.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from fairness.triangulation import RecordPair, Triangulation, triangulate
from features.outcomes import Outcomes, load_outcomes
from features.pointintime import DATE_COLUMN
from models.artifacts import LABEL_BIAS_JSON
from models.tracking import TrackingSettings, load_run_artifact_json

GROUPS = ("ethnicity", "sex")
"""The children table's group columns the check compares (SEND changes over time)."""


def check_label_bias(
    tables: Mapping[str, pd.DataFrame],
    outcome: str,
    *,
    definitions: Outcomes | None = None,
    years: int = 3,
    groups: Sequence[str] = GROUPS,
    intersections: bool = True,
    reference: Mapping[str, str] | None = None,
    band: tuple[float, float] = (0.8, 1.25),
    min_events: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
) -> list[Triangulation]:
    """Every cross-check of ``outcome``, on the records of the last ``years`` years.

    Parameters
    ----------
    tables : mapping of str to pandas.DataFrame
        The extracts by table name (``Extracts.tables()``), with ``children``.
    outcome : str
        An outcome in ``definitions``.
    definitions : Outcomes, optional
        Outcome definitions (default: the package's).
    years : int, default 3
        Records dated within this many years before the newest record of either side.
    groups, intersections, reference, band, min_events, n_boot, seed
        As for :func:`fairness.triangulation.triangulate`.

    Returns
    -------
    list of Triangulation
        One per cross-check, in config order; empty if the outcome has none.

    Raises
    ------
    KeyError
        If the outcome is not defined.
    ValueError
        If no records fall on a side of a check (nothing to compare).
    """
    if years < 1:
        raise ValueError(f"years must be at least 1, got {years}")
    checks = (definitions or load_outcomes())[outcome].cross_checks
    out = []
    for name, check in checks.items():
        newest = max(
            tables[c.table][DATE_COLUMN[c.table]].max()
            for c in (check.numerator, check.denominator)
        )
        start = newest - pd.DateOffset(years=years) + pd.Timedelta(days=1)
        records = check.records(dict(tables), start, newest)
        empty = [s for s in ("numerator", "denominator") if not (records["side"] == s).any()]
        if empty:
            raise ValueError(
                f"cross-check {name!r} of {outcome!r} has no {empty[0]} records between "
                f"{start:%Y-%m-%d} and {newest:%Y-%m-%d}; check the extracts hold "
                f"{getattr(check, empty[0]).table} rows matching {getattr(check, empty[0]).where}"
            )
        out.append(
            triangulate(
                records,
                tables["children"],
                RecordPair(
                    name=name,
                    numerator=check.numerator.label or check.numerator.table,
                    denominator=check.denominator.label or check.denominator.table,
                    assumes=check.assumes,
                ),
                groups=groups,
                intersections=intersections,
                reference=reference,
                band=band,
                min_events=min_events,
                n_boot=n_boot,
                seed=seed,
                window=(f"{start:%Y-%m-%d}", f"{newest:%Y-%m-%d}"),
            )
        )
    return out


def log_label_bias(
    run_id: str,
    results: Sequence[Triangulation],
    settings: TrackingSettings,
    *,
    outcome: str,
    source: str,
) -> None:
    """Log the check's JSON and HTML to a training run (``label_bias/``)."""
    from fairness.triangulation_report import write_label_bias

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "label_bias"
        write_label_bias(results, folder, outcome=outcome, source=source)
        settings.client().log_artifacts(run_id, str(folder), Path(LABEL_BIAS_JSON).parent.name)


def logged_label_bias(run_id: str, settings: TrackingSettings) -> list[Triangulation]:
    """The check a training run logged, or none."""
    doc = load_run_artifact_json(run_id, LABEL_BIAS_JSON, settings)
    return [] if doc is None else [Triangulation.from_dict(c) for c in doc["checks"]]
