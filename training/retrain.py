"""The analyst's quarter, up to (not including) promotion: train challengers, compare them
with the champions on the same latest data, and report drift."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from features.build import label_column
from training.compare import Comparison, compare, test_rows
from training.drift import base_rate_change, feature_drift
from training.tracking import TrackingSettings, get_alias


@dataclass
class RetrainReport:
    """One model's quarter: challenger against champion, feature drift and base-rate change."""

    comparison: Comparison
    drift: pd.DataFrame | None
    base_rate: dict[str, float] | None

    def as_dict(self) -> dict:
        """The report as plain data (logged to the challenger's run)."""
        c = self.comparison
        return {
            "model": c.name,
            "challenger_version": c.challenger_version,
            "champion_version": c.champion_version,
            "challenger": c.challenger,
            "champion": c.champion,
            "base_rate": self.base_rate,
            "drift": None if self.drift is None else self.drift.to_dict(orient="records"),
        }


def quarter_report(name: str, settings: TrackingSettings) -> RetrainReport:
    """Compare the challenger with the champion and measure drift since the champion's test."""
    comparison = compare(name, settings)
    champion = get_alias(name, "champion", settings)
    if champion is None:
        return RetrainReport(comparison, None, None)
    before = test_rows(champion.run_id, settings)
    after = comparison.test_rows
    features = [c for c in before.columns if c in after.columns and c not in _NOT_FEATURES]
    features = [c for c in features if not c.startswith(("label_", "score_"))]
    label = label_column(name)
    return RetrainReport(
        comparison,
        feature_drift(before, after, features),
        base_rate_change(before[label], after[label]),
    )


_NOT_FEATURES = {"child_id", "snapshot_date", "sex", "ethnicity", "send", "area", "true_label"}


def log_report(report: RetrainReport, settings: TrackingSettings) -> None:
    """Attach the report to the challenger's run as ``retrain/report.json``."""
    client = settings.client()
    version = client.get_model_version(report.comparison.name, report.comparison.challenger_version)
    client.log_text(
        version.run_id, json.dumps(report.as_dict(), indent=2, default=str), "retrain/report.json"
    )
