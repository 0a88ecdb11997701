"""Train, evaluate and register one outcome's model: the steps of ``lantern train``.

Pure steps (split, fit, score, evaluate) and one edge that writes: :func:`log_and_register`
logs everything to MLflow inside a failure-safe run and registers the model last, as
``challenger``, so a crash or Ctrl-C leaves no half-registered version.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from features.build import AUDIT_COLUMNS, label_column
from features.outcomes import Outcome, load_outcomes
from features.profile import data_profile
from features.registry import Registry, default_registry
from models.artifacts import DATA_PROFILE, DATA_SUMMARY, LABEL_ROWS, TEST_ROWS
from models.scoring import ScoringModel, as_matrix
from models.tracking import (
    TrackingSettings,
    failure_safe_run,
    register_challenger,
)
from training.card import model_card, render_markdown
from training.choice import RegistrationChoice, choose
from training.config import TrainingSettings
from training.directions import DirectionCheck, check_directions
from training.evaluation import (
    AGE_COLUMN,
    BASELINE_NAMES,
    Baselines,
    Evaluation,
    evaluate_all,
    fit_baselines,
)
from training.intervals import MetricSummary
from training.model import fit_booster, fit_platt, has_splits, monotone_constraints
from training.pseudonyms import new_run_key, pseudonymised
from training.reliability import reliability_plot, reliability_table
from training.split import TemporalSplit, temporal_split

PIP_REQUIREMENTS = [
    "lightgbm==4.7.0",
    "pandas==3.1.1",
    "numpy",
    "scikit-learn==1.9.1",
    "mlflow==3.17.2",
]


@dataclass
class TrainResult:
    """What one outcome's training run produced."""

    outcome: str
    model: ScoringModel
    split: TemporalSplit
    evaluation: Evaluation
    run_id: str | None = None
    version: str | None = None
    notes: list[str] = field(default_factory=list)
    choice: RegistrationChoice | None = None
    constraints: dict[str, int] = field(default_factory=dict)
    directions: DirectionCheck | None = None

    @property
    def headline(self) -> str:
        """The metric the comparisons are made on."""
        return self.evaluation.headline

    def summary_row(self) -> dict[str, str]:
        """One line of the quickstart's summary table: the headline with its interval, the
        plain AUC and calibration (the comparisons are :meth:`comparison_rows`)."""
        e = self.evaluation
        lantern = e.metrics["lantern"]
        row = {
            "model": self.outcome,
            "version": self.version or "-",
            HEADLINE_LABEL[e.headline]: lantern.format(e.headline),
        }
        if e.headline != "auc":
            row["AUC, all ages"] = f"{lantern.point['auc']:.3f}"
        return row | {
            "ECE": f"{lantern.point['ece']:.4f}",
            "precision@2%": f"{lantern.point['precision_at_k']:.3f}",
            "oracle AUC": f"{e.metrics['oracle'].point[e.headline]:.3f}"
            if "oracle" in e.metrics
            else "-",
        }

    def comparison_rows(self) -> list[dict[str, str]]:
        """Lantern against each baseline (and the oracle against Lantern) on the headline:
        the paired difference, its interval and what it reads as."""
        return [
            {
                "model": self.outcome,
                "comparison": (
                    "oracle − Lantern" if name == "oracle" else f"Lantern − {BASELINE_NAMES[name]}"
                ),
                "difference (95% CI)": d.format(),
                "reading": d.reading,
            }
            for name, d in self.evaluation.comparisons.items()
        ]


HEADLINE_LABEL = {"auc_within_age": "AUC within age (95% CI)", "auc": "test AUC (95% CI)"}


def fit_model(
    table: pd.DataFrame,
    split: TemporalSplit,
    features: list[str],
    outcome: str,
    settings: TrainingSettings,
) -> ScoringModel:
    """Fit the booster on the training snapshots (each feature kept to its registry
    direction, :func:`training.model.monotone_constraints`) and calibrate it on the
    validation one."""
    label = label_column(outcome)
    X_train, y_train = as_matrix(table.iloc[split.train], features), _y(table, split.train, label)
    X_val, y_val = (
        as_matrix(table.iloc[split.validation], features),
        _y(table, split.validation, label),
    )
    booster = fit_booster(
        X_train,
        y_train,
        X_val,
        y_val,
        settings.lightgbm,
        features=features,
        seed=settings.seed,
        monotone=monotone_constraints(features),
    )
    slope, intercept = fit_platt(booster.predict(X_val, raw_score=True), y_val)
    return ScoringModel(booster, features, slope, intercept, outcome)


def _y(table: pd.DataFrame, rows: np.ndarray, label: str) -> np.ndarray:
    return table[label].to_numpy()[rows].astype(int)


def train_outcome(
    table: pd.DataFrame,
    outcome: str,
    settings: TrainingSettings,
    *,
    registry: Registry | None = None,
    ground_truth: pd.DataFrame | None = None,
    oracle_applies: bool = True,
    definition: Outcome | None = None,
    fit: Callable[..., ScoringModel] | None = None,
) -> TrainResult:
    """Split, fit, calibrate and evaluate one outcome's model (no MLflow).

    ``definition`` is the outcome's (default: the package's, if it defines ``outcome``); its
    eligible population is where the model is measured. ``fit(table, split, features,
    outcome, settings)`` fits the calibrated model; default :func:`fit_model` on this machine
    (:mod:`training.distributed` passes one that fits on a Dask cluster).
    """
    registry = default_registry() if registry is None else registry
    features = settings.features.select(registry)
    split = temporal_split(
        table, label_column(outcome), test_child_share=settings.test_child_share, seed=settings.seed
    )
    model = (fit or fit_model)(table, split, features, outcome, settings)
    if definition is None:
        definition = load_outcomes().root.get(outcome)
    baselines = fit_baselines(table, split, features, outcome, settings.seed)
    evaluation = evaluate_all(
        table,
        split,
        model,
        outcome,
        settings,
        ground_truth if oracle_applies else None,
        definition,
        baselines,
    )
    result = TrainResult(outcome=outcome, model=model, split=split, evaluation=evaluation)
    result.choice = registration_choice(table, split, model, outcome, settings, baselines)
    constraints = monotone_constraints(features)  # as the fit applied them
    if not settings.lightgbm.monotone:
        constraints = [0] * len(features)
    result.constraints = dict(zip(features, constraints, strict=True))
    result.directions = check_directions(
        model, as_matrix(table.iloc[split.test], features), registry=registry
    )
    return result


def registration_choice(
    table: pd.DataFrame,
    split: TemporalSplit,
    model: ScoringModel,
    outcome: str,
    settings: TrainingSettings,
    baselines: Baselines,
) -> RegistrationChoice:
    """Whether the model may be registered: compared with its baselines on the validation
    rows (:func:`training.choice.choose`)."""
    rows = split.validation
    validation = table.iloc[rows]
    return choose(
        table[label_column(outcome)].to_numpy()[rows].astype(int),
        model.predict_proba(as_matrix(validation, model.features)),
        baselines.score(table, rows),
        settings.registration,
        ages=validation[AGE_COLUMN].to_numpy(dtype=float) if AGE_COLUMN in validation else None,
        constant=not has_splits(model.booster),
    )


def data_summary(
    table: pd.DataFrame, result: TrainResult, registry: Registry, outcome: Outcome
) -> dict:
    """Rows, snapshot dates, base rates and the features used, for the run and the card."""
    label = label_column(result.outcome)
    split = result.split

    def part(rows: np.ndarray) -> dict:
        return {
            "rows": int(len(rows)),
            "children": int(table["child_id"].iloc[rows].nunique()),
            "base_rate": round(float(table[label].iloc[rows].mean()), 5),
        }

    return {
        "outcome": result.outcome,
        "definition": outcome.model_dump(),
        "snapshot_dates": sorted(f"{d:%Y-%m-%d}" for d in table["snapshot_date"].unique()),
        "split": split.describe(),
        "train": {"snapshots": [f"{d:%Y-%m-%d}" for d in split.train_dates], **part(split.train)},
        "validation": {"snapshot": f"{split.validation_date:%Y-%m-%d}", **part(split.validation)},
        "test": {
            "snapshot": f"{split.test_date:%Y-%m-%d}",
            "held-out children only": True,
            **part(split.test),
        },
        "features": [
            {
                "name": name,
                "description": registry[name].description,
                "agency": registry[name].agency,
                "window": registry[name].window,
                "unit": registry[name].unit,
                "sensitive": registry[name].sensitive,
                "direction": registry[name].direction,
                "constrained": bool(result.constraints.get(name, 0)),
                "why": registry[name].why,
            }
            for name in result.model.features
        ],
    }


def log_metric_summaries(metrics: dict[str, MetricSummary]) -> None:
    """Log each model's metrics to the active run: Lantern's unprefixed, baselines' prefixed."""
    import mlflow

    for name, summary in metrics.items():
        prefix = "" if name == "lantern" else f"{name}."
        mlflow.log_metrics(
            {f"{prefix}{k}": v for k, v in summary.as_flat().items() if np.isfinite(v)}
        )


def log_comparisons(evaluation: Evaluation) -> None:
    """Log each paired difference on the headline (``vs.logistic.auc_within_age`` = Lantern
    minus logistic; ``vs.oracle.`` = oracle minus Lantern) and each band's Lantern metrics."""
    import mlflow

    metrics = {}
    for name, d in evaluation.comparisons.items():
        for part, value in (("", d.point), ("_low", d.low), ("_high", d.high)):
            metrics[f"vs.{name}.{d.metric}{part}"] = value
    for band, summaries in evaluation.bands.items():
        metrics |= summaries["lantern"].as_flat(f"band.{band}.")
    mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})


def log_scoring_model(model: ScoringModel, folder: Path, example: pd.DataFrame | None = None):
    """Log ``model`` to the active run as an MLflow pyfunc (with a signature and input example
    when ``example`` rows are given); returns MLflow's ModelInfo."""
    import mlflow
    from mlflow.models import infer_signature

    from models.scoring import LanternPyfunc

    signature = None
    if example is not None:
        output = pd.DataFrame({"probability": model.predict_proba(example.to_numpy())})
        signature = infer_signature(example, output)
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=LanternPyfunc(),
        artifacts={"model": str(model.save(folder / "scoring"))},
        signature=signature,
        input_example=example,
        pip_requirements=PIP_REQUIREMENTS,
    )


def log_and_register(
    table: pd.DataFrame,
    result: TrainResult,
    settings: TrainingSettings,
    tracking: TrackingSettings,
    *,
    registry: Registry | None = None,
    outcome_definition: Outcome | None = None,
    register: bool = True,
) -> TrainResult:
    """Log the run to MLflow (params, metrics, card, plots, model); register it last."""
    import mlflow

    registry = default_registry() if registry is None else registry
    outcome_definition = outcome_definition or load_outcomes()[result.outcome]
    summary = data_summary(table, result, registry, outcome_definition)
    trained_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    with failure_safe_run(result.outcome, f"train {trained_at}", tracking) as run:
        mlflow.log_params(
            {
                **{f"lightgbm.{k}": v for k, v in settings.lightgbm.model_dump().items()},
                "best_iteration": result.model.booster.best_iteration,
                "calibration.slope": round(result.model.slope, 6),
                "calibration.intercept": round(result.model.intercept, 6),
                "features": len(result.model.features),
                "top_k_share": settings.top_k_share,
                "bootstrap": settings.bootstrap,
                "seed": settings.seed,
                "test_date": f"{result.split.test_date:%Y-%m-%d}",
            }
        )
        log_metric_summaries(result.evaluation.metrics)
        log_comparisons(result.evaluation)
        if result.directions is not None:
            mlflow.log_metric("directions.contrary", len(result.directions.contrary()))
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            _write_artifacts(folder, table, result, summary, settings, trained_at)
            mlflow.log_artifacts(str(folder / "run"))
            example = table.iloc[result.split.test[:5]][result.model.features].astype(float)
            info = log_scoring_model(result.model, folder, example)
        result.run_id = run.info.run_id
        if result.choice is not None:
            mlflow.set_tag("lantern.registration", result.choice.reason)
            mlflow.log_dict(result.choice.to_dict(), "registration/choice.json")
            if not result.choice.register:
                result.notes.append(result.choice.reason)
                register = False
        if register:
            version = register_challenger(
                info.model_uri,
                result.outcome,
                run_id=run.info.run_id,
                tags={
                    "lantern.test_date": f"{result.split.test_date:%Y-%m-%d}",
                    "lantern.auc": f"{result.evaluation.metrics['lantern'].point['auc']:.4f}",
                    "lantern.headline": (
                        f"{result.evaluation.headline} "
                        f"{result.evaluation.metrics['lantern'].point[result.evaluation.headline]:.4f}"
                    ),
                },
                settings=tracking,
            )
            result.version = str(version.version)
    return result


def scored_test_rows(table: pd.DataFrame, result: TrainResult) -> pd.DataFrame:
    """The test rows as logged: keys, audit columns, label, every feature, each score
    (``score_lantern``, ``score_indicator_count``, ...) and, on synthetic data, ``true_label``."""
    test = table.iloc[result.evaluation.rows]
    keep = ["child_id", "snapshot_date", *AUDIT_COLUMNS, label_column(result.outcome)]
    # Every feature column, not only this model's: a champion that uses features this model
    # does not is scored on exactly these rows (training.compare).
    features = [c for c in test.columns if c not in keep and not c.startswith("label_")]
    rows = test[keep + features].copy()
    for name, scores in result.evaluation.scores.items():
        rows[f"score_{name}"] = scores
    if result.evaluation.true_label is not None:
        rows["true_label"] = result.evaluation.true_label
    return rows


def _write_artifacts(
    folder: Path,
    table: pd.DataFrame,
    result: TrainResult,
    summary: dict,
    settings: TrainingSettings,
    trained_at: str,
) -> None:
    run = folder / "run"
    (run / "evaluation").mkdir(parents=True)
    (run / "model_card").mkdir()
    (run / DATA_SUMMARY).write_text(json.dumps(summary, indent=2, default=str))
    profile = {
        "profile": data_profile(table, [f["name"] for f in summary["features"]]),
        "ground_truth": result.evaluation.true_label is not None,
    }
    (run / DATA_PROFILE).write_text(json.dumps(profile, indent=2))
    test = table.iloc[result.split.test]
    key = new_run_key()  # never stored: the logged rows cannot be linked back to a child
    pseudonymised(scored_test_rows(table, result), key).to_parquet(run / TEST_ROWS, index=False)
    if result.evaluation.label_rows is not None:
        label_rows = pseudonymised(result.evaluation.label_rows, key)
        label_rows.to_parquet(run / LABEL_ROWS, index=False)
    tables = {
        name: reliability_table(result.evaluation.y, s)
        for name, s in result.evaluation.scores.items()
        if name != "indicator_count"
    }
    reliability_plot(tables, f"Reliability: {result.outcome} (test period)").savefig(
        run / "evaluation" / "reliability.png", dpi=110, bbox_inches="tight"
    )
    shap_plots(result.model, test, run / "evaluation", seed=settings.seed)
    card = model_card(
        name=result.outcome,
        version=None,
        outcome=summary["definition"],
        data={"train": summary["train"], "test": summary["test"]},
        metrics={
            name: card_metrics(m, settings.top_k_share)
            for name, m in result.evaluation.metrics.items()
        },
        population=result.evaluation.population,
        bands={
            band: {
                "children": f"{summaries['lantern'].point['n']:.0f}",
                "with the outcome": f"{summaries['lantern'].point['positives']:.0f}",
                **{
                    BASELINE_NAMES.get(name, name): summary.format("auc")
                    for name, summary in summaries.items()
                },
            }
            for band, summaries in result.evaluation.bands.items()
        },
        comparisons={
            ("oracle − Lantern" if name == "oracle" else f"Lantern − {BASELINE_NAMES[name]}"): {
                "difference": d.format(),
                "reading": d.reading,
            }
            for name, d in result.evaluation.comparisons.items()
        },
        headline=HEADLINE_LABEL[result.evaluation.headline].removesuffix(" (95% CI)"),
        registration=result.choice.to_dict() if result.choice else None,
        directions=(
            {
                "method": settings.lightgbm.monotone_method
                if any(result.constraints.values())
                else None,
                **result.directions.to_dict(),
            }
            if result.directions is not None
            else None
        ),
        features=summary["features"],
        sensitive={
            n: j for n, j in settings.features.sensitive.items() if n in result.model.features
        },
        settings=settings.model_dump(exclude={"features"}),
        trained_at=trained_at,
    )
    (run / "model_card" / "model_card.json").write_text(json.dumps(card, indent=2, default=str))
    (run / "model_card" / "model_card.md").write_text(render_markdown(card))


def card_metrics(m: MetricSummary, top_k_share: float) -> dict[str, str]:
    """One score's metrics as the model card prints them."""
    return {
        "ROC AUC within each year of age (headline)": m.format("auc_within_age"),
        "ROC AUC, all ages": m.format("auc"),
        "average precision": m.format("average_precision"),
        "Brier": m.format("brier"),
        "ECE": m.format("ece"),
        f"precision at top {top_k_share:.0%}": m.format("precision_at_k"),
        f"recall at top {top_k_share:.0%}": m.format("recall_at_k"),
        "children flagged": f"{m.point['n_flagged']:.0f}",
    }


def shap_plots(model: ScoringModel, test: pd.DataFrame, folder: Path, *, seed: int, n: int = 1000):
    """Global SHAP summary of the test period (beeswarm and bar), on a sample of children."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import shap

    sample = test.sample(min(n, len(test)), random_state=seed)
    X = sample[model.features].astype(float)
    explanation = shap.TreeExplainer(model.booster)(X)
    for kind, plot in (("beeswarm", shap.plots.beeswarm), ("bar", shap.plots.bar)):
        plot(explanation, max_display=15, show=False)
        plt.gcf().savefig(folder / f"shap_{kind}.png", dpi=110, bbox_inches="tight")
        plt.close("all")


def train_and_register(
    table: pd.DataFrame,
    outcomes: list[str],
    settings: TrainingSettings,
    tracking: TrackingSettings,
    *,
    ground_truth: pd.DataFrame | None = None,
    outcome_definitions=None,
    progress: Callable[[str], None] | None = None,
    train: Callable[..., TrainResult] | None = None,
) -> list[TrainResult]:
    """Train, log and register each outcome's model in turn.

    ``train`` fits one outcome (default :func:`train_outcome`; the Dask engine passes its
    own), called as ``train(table, outcome, settings, ground_truth=..., oracle_applies=...)``.
    """
    train = train or train_outcome
    definitions = outcome_definitions or load_outcomes()
    default = load_outcomes()
    results = []
    for outcome in outcomes:
        same_as_generator = outcome in default.root and definitions[outcome] == default[outcome]
        result = train(
            table,
            outcome,
            settings,
            ground_truth=ground_truth,
            oracle_applies=same_as_generator,
            definition=definitions[outcome],
        )
        if ground_truth is not None and not same_as_generator:
            result.notes.append("no oracle: the outcome definition differs from the generator's")
        log_and_register(table, result, settings, tracking, outcome_definition=definitions[outcome])
        results.append(result)
        if progress:
            progress(outcome)
    return results
