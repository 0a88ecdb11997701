"""Challenger against champion on the same latest data: the challenger's own test rows.

Each training run logs its test rows (features, label, scores) as an artifact; a champion is
scored on exactly those rows, so the promotion gate compares like with like.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from features.build import label_column
from models.scoring import as_matrix
from models.tracking import CHALLENGER, TrackingSettings
from models.versions import find_version, load_champion, logged_test_rows
from training.metrics import point_metrics


@dataclass
class Comparison:
    """Metrics of challenger and champion on the challenger's test rows."""

    name: str
    challenger_version: str
    champion_version: str | None
    challenger: dict[str, float]
    champion: dict[str, float] | None
    test_rows: pd.DataFrame


def compare(name: str, settings: TrackingSettings, top_k_share: float = 0.02) -> Comparison:
    """Score the challenger and the champion (if any) on the challenger's test rows."""
    challenger = find_version(name, CHALLENGER, settings)
    rows = logged_test_rows(challenger.run_id, settings)
    if label_column(name) not in rows:
        raise LookupError(f"the challenger's test rows have no {label_column(name)} column")
    y = rows[label_column(name)].to_numpy().astype(int)
    ages = rows["age_years"].to_numpy(dtype=float) if "age_years" in rows else None
    challenger_metrics = point_metrics(y, rows["score_lantern"].to_numpy(), top_k_share, ages)
    champion = load_champion(name, settings)
    champion_metrics = None
    if champion is not None:
        scores = champion.model.predict_proba(as_matrix(rows, champion.model.features))
        champion_metrics = point_metrics(y, scores, top_k_share, ages)
    return Comparison(
        name=name,
        challenger_version=str(challenger.version),
        champion_version=champion.number if champion else None,
        challenger=challenger_metrics,
        champion=champion_metrics,
        test_rows=rows,
    )
