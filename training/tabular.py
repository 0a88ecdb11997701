"""Bring your own data: train on any table described by a small YAML.

The same model, calibration and metrics as for a partnership, on one row per person:
split by the time column (earliest 60% train, next 20% validation, latest 20% test), audit
columns kept beside the data and never used as features. An existing tool's score column can
be named, to compare it with Lantern on the same test rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.scoring import ScoringModel
from models.tracking import TrackingSettings
from training.choice import RegistrationChoice, choose
from training.config import TrainingSettings
from training.intervals import MetricSummary, evaluate, paired_difference
from training.model import fit_booster, fit_platt, has_splits


class TabularConfig(BaseModel):
    """What a table holds and how to learn from it."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str
    file: Path
    id: str
    label: str
    time: str | None = None
    split: Literal["time", "random"] = "time"
    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    audit: list[str] = Field(default_factory=list)
    filters: list[str] = Field(default_factory=list)
    reference_score: str | None = None
    reference_threshold: float | None = None

    @model_validator(mode="after")
    def _no_audit_features(self) -> TabularConfig:
        both = set(self.audit) & set(self.numeric + self.categorical)
        if both:
            raise ValueError(f"{sorted(both)} are audit columns: they cannot also be features")
        if not self.numeric + self.categorical:
            raise ValueError("name at least one feature column under numeric or categorical")
        if self.split == "time" and not self.time:
            raise ValueError("a time split needs the time column: give `time:` or `split: random`")
        return self

    @property
    def features(self) -> list[str]:
        """The feature columns, numeric first."""
        return self.numeric + self.categorical


def load_tabular_config(path: Path) -> TabularConfig:
    """Read a tabular config; ``file`` is relative to the YAML's folder."""
    path = Path(path)
    config = TabularConfig.model_validate(yaml.safe_load(path.read_text()))
    return config.model_copy(update={"file": (path.parent / config.file).resolve()})


def load_table(config: TabularConfig) -> pd.DataFrame:
    """Read the file, apply the filters, and check every named column is there."""
    frame = (
        pd.read_parquet(config.file)
        if config.file.suffix == ".parquet"
        else pd.read_csv(config.file)
    )
    needed = [config.id, config.label, *config.features, *config.audit]
    if config.time:
        needed.append(config.time)
    if config.reference_score:
        needed.append(config.reference_score)
    missing = [c for c in needed if c not in frame]
    if missing:
        raise KeyError(
            f"{config.file.name} has no column(s) {missing}; its columns: {list(frame.columns)}"
        )
    for expression in config.filters:
        frame = frame.query(expression)
    if not config.time:
        return frame.sort_values(config.id, kind="stable").reset_index(drop=True)
    frame = frame.assign(**{config.time: pd.to_datetime(frame[config.time])})
    return frame.sort_values([config.time, config.id], kind="stable").reset_index(drop=True)


def encode(frame: pd.DataFrame, config: TabularConfig, categories: dict[str, list]) -> np.ndarray:
    """Features as floats: categories as integer codes (unknown: NaN), never pandas types."""
    columns = [frame[c].to_numpy(dtype=float, na_value=np.nan) for c in config.numeric]
    for c in config.categorical:
        codes = pd.Categorical(frame[c], categories=categories[c]).codes.astype(float)
        columns.append(np.where(codes < 0, np.nan, codes))
    return np.column_stack(columns)


def split_rows(frame: pd.DataFrame, config: TabularConfig, seed: int = 7) -> dict[str, np.ndarray]:
    """60% train, 20% validation, 20% test; a person (id) is wholly in one part.

    ``split: time`` orders people by their first time (earliest train, latest test);
    ``split: random`` uses a stable hash of the id, for files whose rows were selected in a
    way that differs over time.
    """
    if config.split == "time":
        first = frame.groupby(config.id)[config.time].transform("min")
        rank = first.rank(method="first", pct=True).to_numpy()
    else:
        from training.split import held_out

        ids = frame[config.id].astype(str)
        rank = np.select(
            [held_out(ids, 0.2, seed), held_out(ids, 0.25, seed + 1)], [0.9, 0.7], default=0.3
        )
    return {
        "train": np.flatnonzero(rank <= 0.6),
        "validation": np.flatnonzero((rank > 0.6) & (rank <= 0.8)),
        "test": np.flatnonzero(rank > 0.8),
    }


@dataclass
class TabularResult:
    """A bring-your-own-data run."""

    config: TabularConfig
    model: ScoringModel
    metrics: dict[str, MetricSummary]
    accuracy: dict[str, float]
    test: pd.DataFrame
    run_id: str | None = None
    version: str | None = None
    choice: RegistrationChoice | None = None

    headline = "auc"
    """The metric the comparisons are made on (a table has no ages to stratify by)."""

    def summary_row(self) -> dict[str, str]:
        """One line of the summary table."""
        row = {
            "model": self.config.name,
            "version": self.version or "-",
            "test AUC (95% CI)": self.metrics["lantern"].format("auc"),
            "accuracy": f"{self.accuracy['lantern']:.3f}",
            "ECE": f"{self.metrics['lantern'].point['ece']:.4f}",
            "logistic AUC": f"{self.metrics['logistic'].point['auc']:.3f}",
        }
        if "reference" in self.metrics:
            row["reference AUC"] = f"{self.metrics['reference'].point['auc']:.3f}"
            row["reference accuracy"] = f"{self.accuracy['reference']:.3f}"
        return row

    def comparison_rows(self) -> list[dict[str, str]]:
        """Lantern minus each other score's AUC, paired on the same test rows."""
        rows = []
        for name in ("logistic", "reference"):
            if name in self.metrics:
                d = paired_difference(self.metrics["lantern"], self.metrics[name], "auc")
                rows.append(
                    {
                        "model": self.config.name,
                        "comparison": f"Lantern − {name}",
                        "difference (95% CI)": d.format(),
                        "reading": d.reading,
                    }
                )
        return rows


def fit_tabular(config: TabularConfig, settings: TrainingSettings) -> TabularResult:
    """Split, fit and calibrate, and evaluate beside a logistic regression and the
    reference tool (at its own threshold) on the same test rows."""
    from training.baselines import logistic_baseline

    frame = load_table(config)
    parts = split_rows(frame, config, settings.seed)
    train = frame.iloc[parts["train"]]
    categories = {c: sorted(train[c].dropna().unique().tolist()) for c in config.categorical}
    X = {k: encode(frame.iloc[rows], config, categories) for k, rows in parts.items()}
    y = {k: frame[config.label].to_numpy()[rows].astype(int) for k, rows in parts.items()}
    booster = fit_booster(
        X["train"],
        y["train"],
        X["validation"],
        y["validation"],
        settings.lightgbm,
        features=config.features,
        seed=settings.seed,
    )
    slope, intercept = fit_platt(booster.predict(X["validation"], raw_score=True), y["validation"])
    model = ScoringModel(booster, config.features, slope, intercept, config.name)
    logistic = logistic_baseline(seed=settings.seed).fit(
        pd.DataFrame(X["train"], columns=config.features), y["train"]
    )
    test = frame.iloc[parts["test"]].copy()
    scores = {
        "lantern": model.predict_proba(X["test"]),
        "logistic": logistic.predict_proba(pd.DataFrame(X["test"], columns=config.features))[:, 1],
    }
    accuracy = {k: float(((s >= 0.5) == y["test"]).mean()) for k, s in scores.items()}
    if config.reference_score:
        scores["reference"] = test[config.reference_score].to_numpy(dtype=float)
        if config.reference_threshold is not None:
            flagged = scores["reference"] >= config.reference_threshold
            accuracy["reference"] = float((flagged == y["test"]).mean())
    metrics = {
        k: evaluate(
            y["test"],
            s,
            top_k_share=settings.top_k_share,
            n_boot=settings.bootstrap,
            seed=settings.seed,
        )
        for k, s in scores.items()
    }
    for k, s in scores.items():
        test[f"score_{k}"] = s
    choice = registration_choice(X, y, booster, logistic, config, settings)
    return TabularResult(config, model, metrics, accuracy, test, choice=choice)


CROSS_VALIDATE_BELOW = 5_000
"""Training and validation rows below which the registration choice is cross-validated: a
validation part of a few dozen rows cannot tell a model from a baseline."""


def registration_choice(
    X, y, booster, logistic, config: TabularConfig, settings
) -> RegistrationChoice:
    """Compare the model with the logistic regression (fitted on the training part) on rows
    neither was fitted on: the validation part, or (small tables) 5-fold cross-validation
    over training and validation rows, refitting both, the model with its own number of
    trees (:func:`training.choice.choose`)."""
    from training.baselines import logistic_baseline

    constant = not has_splits(booster)
    X_all = np.vstack([X["train"], X["validation"]])
    y_all = np.concatenate([y["train"], y["validation"]])
    if len(y_all) >= CROSS_VALIDATE_BELOW:
        validation = pd.DataFrame(X["validation"], columns=config.features)
        return choose(
            y["validation"],
            booster.predict(X["validation"]),
            {"logistic": logistic.predict_proba(validation)[:, 1]},
            settings.registration,
            constant=constant,
        )
    from sklearn.model_selection import StratifiedKFold

    ours, theirs = np.zeros(len(y_all)), np.zeros(len(y_all))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=settings.seed)
    for fit_rows, held in folds.split(X_all, y_all):
        fitted = fit_booster(
            X_all[fit_rows], y_all[fit_rows], None, None, settings.lightgbm,
            features=config.features, seed=settings.seed, rounds=booster.num_trees(),
        )  # fmt: skip
        ours[held] = fitted.predict(X_all[held], raw_score=True)
        refitted = logistic_baseline(seed=settings.seed).fit(
            pd.DataFrame(X_all[fit_rows], columns=config.features), y_all[fit_rows]
        )
        theirs[held] = refitted.predict_proba(pd.DataFrame(X_all[held], columns=config.features))[
            :, 1
        ]
    return choose(
        y_all,
        ours,
        {"logistic": theirs},
        settings.registration,
        constant=constant,
        where="in 5-fold cross-validation over the training and validation rows,",
    )


def train_tabular(
    config: TabularConfig,
    settings: TrainingSettings,
    tracking: TrackingSettings,
    register: bool = True,
) -> TabularResult:
    """Fit, evaluate, log to MLflow and register as challenger (see :func:`fit_tabular`),
    unless the registration choice refuses the model (``result.choice`` says why)."""
    import tempfile

    import mlflow

    from models.tracking import failure_safe_run, register_challenger
    from training.pipeline import log_metric_summaries, log_scoring_model

    result = fit_tabular(config, settings)
    with failure_safe_run(config.name, f"train {config.name}", tracking) as run:
        mlflow.log_params(
            {
                "source": config.file.name,
                "rows_test": len(result.test),
                "features": ",".join(config.features),
                "label": config.label,
            }
        )
        log_metric_summaries(result.metrics)
        mlflow.log_metrics({f"accuracy.{k}": v for k, v in result.accuracy.items()})
        with tempfile.TemporaryDirectory() as tmp:
            keep = [config.id, config.label, *config.audit] + [
                c for c in result.test if c.startswith("score_")
            ]
            path = Path(tmp) / "test_rows.parquet"
            result.test[keep].to_parquet(path, index=False)
            mlflow.log_artifact(str(path), "evaluation")
            info = log_scoring_model(result.model, Path(tmp))
        result.run_id = run.info.run_id
        mlflow.set_tag("lantern.registration", result.choice.reason)
        mlflow.log_dict(result.choice.to_dict(), "registration/choice.json")
        if register and result.choice.register:
            version = register_challenger(
                info.model_uri,
                config.name,
                run_id=run.info.run_id,
                tags={"lantern.source": config.file.name},
                settings=tracking,
            )
            result.version = str(version.version)
    return result
