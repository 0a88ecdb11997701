"""The analyst's quarter: load the new extracts, train challengers, compare them with the
champions on the same latest data, report drift, and put each challenger to the promotion gate.

The ``quarterly_retrain`` notebook runs the quarter with these; ``lantern retrain`` calls
:func:`quarter_report` and :func:`log_report`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.build import build_features, default_snapshot_dates, label_column
from features.outcomes import Outcomes
from models.artifacts import FAIRNESS_ARTIFACT
from models.tracking import CHAMPION, TrackingSettings, get_alias, load_run_artifact_json
from models.versions import logged_test_rows
from training.compare import Comparison, compare
from training.config import TrainingSettings
from training.drift import base_rate_change, feature_drift
from training.promotion import PromotionDecision, PromotionPolicy, promote

if TYPE_CHECKING:
    from training.pipeline import TrainResult

GROUND_TRUTH_FILE = Path("ground_truth") / "outcome_probabilities.parquet"
"""Where a synthetic partnership keeps its exact outcome probabilities, inside its folder."""


@dataclass
class Quarter:
    """A partnership's extracts, as the pipeline trains on them.

    Attributes
    ----------
    table : pandas.DataFrame
        The point-in-time feature table: one row per child per snapshot date, with labels.
    ground_truth : pandas.DataFrame or None
        The generator's exact outcome probabilities (synthetic partnerships only).
    """

    table: pd.DataFrame
    ground_truth: pd.DataFrame | None


def load_quarter(
    folder: str | Path, *, outcomes: Outcomes | None = None, frequency: str = "quarterly"
) -> Quarter:
    """Load a partnership folder's extracts, checked against the contract, and build features.

    Parameters
    ----------
    folder : str or pathlib.Path
        The partnership folder (extracts in it or in its ``extracts`` subfolder, and, for a
        synthetic partnership, ``ground_truth/``).
    outcomes : Outcomes, optional
        Outcome definitions (default: the package's).
    frequency : str
        Snapshot frequency: ``"quarterly"``, ``"termly"`` or ``"annual"``.

    Returns
    -------
    Quarter

    Raises
    ------
    features.contract.problems.ContractError
        If the extracts break the data contract (every problem is listed).
    """
    from features.contract import load_extracts
    from features.pointintime import index_records

    records = index_records(load_extracts(folder).tables())
    table = build_features(records, default_snapshot_dates(records, frequency), outcomes=outcomes)
    truth = Path(folder) / GROUND_TRUTH_FILE
    return Quarter(table, pd.read_parquet(truth) if truth.is_file() else None)


@dataclass
class RetrainReport:
    """One model's quarter: challenger against champion, feature drift and base-rate change.

    Attributes
    ----------
    comparison : Comparison
        Challenger and champion metrics on the challenger's test rows.
    drift : pandas.DataFrame or None
        PSI of each feature, largest first (None without a champion).
    base_rate : dict or None
        The outcome's base rate then and now (None without a champion).
    training : TrainResult or None
        The challenger's training result, when the report was made right after training it.
    """

    comparison: Comparison
    drift: pd.DataFrame | None
    base_rate: dict[str, float] | None
    training: TrainResult | None = None

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

    def metrics_table(self) -> pd.DataFrame:
        """Challenger and champion on the same rows: one row per metric.

        Returns
        -------
        pandas.DataFrame
            Columns ``challenger``, ``champion`` and ``change`` (challenger minus champion);
            the champion's columns are NaN when there is no champion.
        """
        c = self.comparison
        table = pd.DataFrame({"challenger": pd.Series(c.challenger, dtype=float)})
        champion = pd.Series(c.champion or {}, dtype=float)
        table["champion"] = champion.reindex(table.index) if len(champion) else np.nan
        table["change"] = table["challenger"] - table["champion"]
        table.index.name = "metric"
        return table


def quarter_report(name: str, settings: TrackingSettings) -> RetrainReport:
    """Compare the challenger with the champion and measure drift since the champion's test."""
    comparison = compare(name, settings)
    champion = get_alias(name, "champion", settings)
    if champion is None:
        return RetrainReport(comparison, None, None)
    before = logged_test_rows(champion.run_id, settings)
    after = comparison.test_rows
    features = [c for c in before.columns if c in after.columns and c not in _NOT_FEATURES]
    features = [c for c in features if not c.startswith(("label_", "score_"))]
    label = label_column(name)
    return RetrainReport(
        comparison,
        feature_drift(before, after, features),
        base_rate_change(before[label], after[label]),
    )


_NOT_FEATURES = {
    "child_id",
    "row_key",
    "snapshot_date",
    "sex",
    "ethnicity",
    "send",
    "area",
    "true_label",
}


def log_report(report: RetrainReport, settings: TrackingSettings) -> None:
    """Attach the report to the challenger's run as ``retrain/report.json``."""
    client = settings.client()
    version = client.get_model_version(report.comparison.name, report.comparison.challenger_version)
    client.log_text(
        version.run_id, json.dumps(report.as_dict(), indent=2, default=str), "retrain/report.json"
    )


def retrain_quarter(
    quarter: Quarter,
    names: list[str],
    settings: TrainingSettings,
    tracking: TrackingSettings,
    *,
    outcome_definitions: Outcomes | None = None,
) -> dict[str, RetrainReport]:
    """Train each model on the quarter as the new challenger and compare it with its champion.

    Stops before promotion: nothing moves the ``champion`` alias.

    Parameters
    ----------
    quarter : Quarter
        The new quarter's feature table (and ground truth, on synthetic data).
    names : list of str
        The models (outcomes) to retrain.
    settings : TrainingSettings
        Training settings.
    tracking : TrackingSettings
        The MLflow store.
    outcome_definitions : Outcomes, optional
        Outcome definitions (default: the package's).

    Returns
    -------
    dict of str to RetrainReport
        Each model's report, also logged to its challenger's run as ``retrain/report.json``.
    """
    from training.pipeline import train_and_register  # scikit-learn: only when training

    results = train_and_register(
        quarter.table,
        names,
        settings,
        tracking,
        ground_truth=quarter.ground_truth,
        outcome_definitions=outcome_definitions,
    )
    reports = {}
    for result in results:
        if result.choice is not None and not result.choice.register:
            continue  # no new challenger: there is nothing to compare (result.notes say why)
        report = quarter_report(result.outcome, tracking)
        report.training = result
        log_report(report, tracking)
        reports[result.outcome] = report
    return reports


def promote_challenger(
    name: str,
    settings: TrackingSettings,
    *,
    comparison: Comparison | None = None,
    policy: PromotionPolicy | None = None,
    force: bool = False,
    reason: str | None = None,
) -> PromotionDecision:
    """Put the challenger to the promotion gate.

    A promoted version's transparency record is governance's to write
    (:func:`governance.transparency.log_transparency_record`); the caller logs it after a
    promotion.

    The gates compare the challenger with the champion on the challenger's own test rows
    (AUC and calibration) and read the challenger's fairness audit (``lantern audit``).

    Parameters
    ----------
    name : str
        The registered model.
    settings : TrackingSettings
        The MLflow store.
    comparison : Comparison, optional
        The challenger against the current champion (:func:`training.compare.compare`, or a
        :class:`RetrainReport`'s); made now if not given.
    policy : PromotionPolicy, optional
        The tolerances (default: :class:`PromotionPolicy`'s).
    force : bool
        Promote although a gate fails; needs ``reason``, which is recorded on the version.
    reason : str, optional
        Why the gates are overridden.

    Returns
    -------
    PromotionDecision
        Also recorded on the version as tags.

    Raises
    ------
    LookupError
        If the model has no challenger.
    ValueError
        If ``force`` has no reason, or ``comparison`` is of another model or was made
        against a champion that has since changed.
    """
    if comparison is None:
        comparison = compare(name, settings)
    if comparison.name != name:
        raise ValueError(
            f"the comparison is of {comparison.name}, not {name}: compare {name}'s challenger"
        )
    champion = get_alias(name, CHAMPION, settings)
    now = None if champion is None else str(champion.version)
    if now != comparison.champion_version:
        raise ValueError(
            f"the comparison was made against champion {comparison.champion_version or 'none'}"
            f" but {name}'s champion is now {now or 'none'}: compare again before promoting"
        )
    version = settings.client().get_model_version(name, comparison.challenger_version)
    decision = promote(
        name,
        challenger_metrics=comparison.challenger,
        champion_metrics=comparison.champion,
        fairness_result=load_run_artifact_json(version.run_id, FAIRNESS_ARTIFACT, settings),
        policy=policy or PromotionPolicy(),
        settings=settings,
        force=force,
        reason=reason,
        version=comparison.challenger_version,
    )
    return decision
