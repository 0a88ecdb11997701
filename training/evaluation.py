"""How a trained model is measured: on the outcome's eligible population, within age, beside
honest baselines, every comparison a paired difference with its interval.

The headline is ROC AUC within each year of age, pooled by positives
(:func:`features.populations.within_age_auc`), so that a score knowing only age earns 0.5;
tables without ages (bring-your-own data) fall back to the plain AUC and say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.build import AUDIT_COLUMNS, label_column
from features.outcomes import Outcome
from features.populations import AGE_BANDS, age_bands
from models.scoring import ScoringModel, as_matrix
from training.baselines import AgeRate, default_rule, logistic_baseline
from training.config import TrainingSettings
from training.intervals import Difference, MetricSummary, evaluate, paired_difference
from training.split import TemporalSplit

AGE_COLUMN = "age_years"
BASELINES = ("indicator_count", "age_only", "logistic")
"""The baselines every model is compared with, in the order reported."""

BASELINE_NAMES = {
    "indicator_count": "indicator-count checklist",
    "age_only": "age alone",
    "logistic": "logistic regression",
    "oracle": "oracle",
}


def headline_metric(ages: np.ndarray | None) -> str:
    """``auc_within_age`` where rows have ages, else ``auc``."""
    return "auc" if ages is None else "auc_within_age"


@dataclass
class Evaluation:
    """Scores and metrics of the model, its baselines and (synthetic data) the oracle, on the
    test rows of the outcome's eligible population.

    Attributes
    ----------
    rows : ndarray of int
        The rows of the feature table measured (eligible test rows).
    scores : dict of str to ndarray
        Each score on ``rows``: ``lantern``, the :data:`BASELINES` and ``oracle`` if known.
    metrics : dict of str to MetricSummary
        Each score's metrics over ``rows``.
    y : ndarray
        The recorded outcome of ``rows``.
    ages : ndarray or None
        Age in years of ``rows`` (None when the table has no ages).
    bands : dict of str to dict of str to MetricSummary
        By age band (e.g. ``"16-17"``), each score's metrics within the band.
    comparisons : dict of str to Difference
        Lantern minus each baseline on the headline metric (for the oracle: oracle minus
        Lantern), paired on the same rows and replicates.
    population : str
        Who the outcome applies to, in words.
    """

    rows: np.ndarray
    scores: dict[str, np.ndarray]
    metrics: dict[str, MetricSummary]
    y: np.ndarray
    ages: np.ndarray | None = None
    bands: dict[str, dict[str, MetricSummary]] = field(default_factory=dict)
    comparisons: dict[str, Difference] = field(default_factory=dict)
    population: str = "every child"
    true_label: np.ndarray | None = None
    label_rows: pd.DataFrame | None = None

    @property
    def headline(self) -> str:
        """The metric every comparison is made on."""
        return headline_metric(self.ages)


def ground_truth_for(
    test: pd.DataFrame, ground_truth: pd.DataFrame | None, outcome: str, test_date: pd.Timestamp
) -> pd.DataFrame | None:
    """The generator's exact probability of the recorded outcome (``oracle``) and the true
    outcome (``true_label``) for each test row, where the ground truth covers them all."""
    columns = {f"p_recorded_{outcome}": "oracle", f"y_true_{outcome}": "true_label"}
    if ground_truth is None or not set(columns) <= set(ground_truth):
        return None
    at = ground_truth[ground_truth["anchor_date"] == test_date].set_index("child_id")
    found = at[list(columns)].rename(columns=columns).reindex(test["child_id"])
    return None if found.isna().any().any() else found.reset_index(drop=True)


def labelled_truth(
    table: pd.DataFrame, ground_truth: pd.DataFrame | None, outcome: str
) -> pd.DataFrame | None:
    """Every labelled row of ``table`` the ground truth covers, with its true outcome.

    The rows, at every snapshot date that is one of the generator's anchor dates, carry the
    keys, the audit columns, age, the recorded label and ``true_label``; None without ground
    truth.
    """
    column = f"y_true_{outcome}"
    if ground_truth is None or column not in ground_truth:
        return None
    label = label_column(outcome)
    ages = [AGE_COLUMN] if AGE_COLUMN in table else []  # for the audit's age bands
    rows = table.loc[
        table[label].notna(), ["child_id", "snapshot_date", *AUDIT_COLUMNS, *ages, label]
    ]
    truth = ground_truth[["child_id", "anchor_date", column]].rename(
        columns={"anchor_date": "snapshot_date", column: "true_label"}
    )
    found = rows.merge(truth, on=["child_id", "snapshot_date"], how="inner")
    found["true_label"] = found["true_label"].astype(int)
    return found if len(found) else None


def eligible_rows(table: pd.DataFrame, rows: np.ndarray, definition: Outcome | None) -> np.ndarray:
    """The ``rows`` in the outcome's eligible population (all of them without ages)."""
    if definition is None or AGE_COLUMN not in table:
        return rows
    return rows[definition.eligible(table[AGE_COLUMN].to_numpy(dtype=float)[rows])]


@dataclass
class Baselines:
    """The baselines of one outcome, each fitted (where it learns) once on the training rows,
    to score the validation rows (the registration choice) and the test rows alike."""

    features: list[str]
    rule: object
    logistic: object
    age_rate: AgeRate | None

    def score(self, table: pd.DataFrame, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Each baseline's scores on ``rows``, in :data:`BASELINES` order."""
        part = table.iloc[rows]
        scores = {
            "indicator_count": self.rule.score(part),
            "logistic": self.logistic.predict_proba(part[self.features])[:, 1],
        }
        if self.age_rate is not None:
            scores["age_only"] = self.age_rate.score(part[AGE_COLUMN].to_numpy(dtype=float))
        return {name: scores[name] for name in BASELINES if name in scores}


def fit_baselines(
    table: pd.DataFrame, split: TemporalSplit, features: list[str], outcome: str, seed: int
) -> Baselines:
    """Fit the baselines on the training rows of ``table``."""
    y_train = table[label_column(outcome)].to_numpy()[split.train].astype(int)
    logistic = logistic_baseline(seed=seed).fit(table.iloc[split.train][features], y_train)
    age_rate = None
    if AGE_COLUMN in table:
        ages = table[AGE_COLUMN].to_numpy(dtype=float)[split.train]
        age_rate = AgeRate().fit(ages, y_train)
    return Baselines(features, default_rule(outcome), logistic, age_rate)


def evaluate_all(
    table: pd.DataFrame,
    split: TemporalSplit,
    model: ScoringModel,
    outcome: str,
    settings: TrainingSettings,
    ground_truth: pd.DataFrame | None,
    definition: Outcome | None = None,
    baselines: Baselines | None = None,
) -> Evaluation:
    """Score the eligible test rows with the model, the baselines (fitted here unless
    given) and the oracle; measure each overall and by age band, and compare each with the
    model on the same replicates."""
    if baselines is None:
        baselines = fit_baselines(table, split, model.features, outcome, settings.seed)
    rows = eligible_rows(table, split.test, definition)
    test = table.iloc[rows]
    y = table[label_column(outcome)].to_numpy()[rows].astype(int)
    ages = test[AGE_COLUMN].to_numpy(dtype=float) if AGE_COLUMN in test else None
    scores = {
        "lantern": model.predict_proba(as_matrix(test, model.features)),
        **baselines.score(table, rows),
    }
    truth = ground_truth_for(test, ground_truth, outcome, split.test_date)
    if truth is not None:
        scores["oracle"] = truth["oracle"].to_numpy()

    def measure(where: np.ndarray) -> dict[str, MetricSummary]:
        return {
            name: evaluate(
                y[where],
                s[where],
                top_k_share=settings.top_k_share,
                n_boot=settings.bootstrap,
                seed=settings.seed,
                ages=None if ages is None else ages[where],
            )
            for name, s in scores.items()
        }

    everyone = np.ones(len(rows), dtype=bool)
    metrics = measure(everyone)
    bands = {}
    if ages is not None:
        labels = age_bands(ages, AGE_BANDS)
        bands = {band: measure(labels == band) for band in dict.fromkeys(labels) if band}
        bands = dict(sorted(bands.items()))
    headline = headline_metric(ages)
    comparisons = {
        name: paired_difference(metrics["lantern"], metrics[name], headline)
        for name in BASELINES
        if name in metrics
    }
    if "oracle" in metrics:
        comparisons["oracle"] = paired_difference(metrics["oracle"], metrics["lantern"], headline)
    return Evaluation(
        rows=rows,
        scores=scores,
        metrics=metrics,
        y=y,
        ages=ages,
        bands=bands,
        comparisons=comparisons,
        population=definition.population() if definition else "every child",
        true_label=None if truth is None else truth["true_label"].to_numpy().astype(int),
        label_rows=None if truth is None else labelled_truth(table, ground_truth, outcome),
    )
