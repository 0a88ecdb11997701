"""Challenger against champion on the same latest data: the challenger's own test rows.

Each training run logs its test rows (features, label, scores) as an artifact; a champion is
scored on exactly those rows, so the promotion gate compares like with like.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features.build import label_column
from models.artifacts import LABEL_ROWS, TEST_ROWS
from training.metrics import point_metrics
from training.tracking import TrackingSettings, get_alias


@dataclass
class Comparison:
    """Metrics of challenger and champion on the challenger's test rows."""

    name: str
    challenger_version: str
    champion_version: str | None
    challenger: dict[str, float]
    champion: dict[str, float] | None
    test_rows: pd.DataFrame


def test_rows(run_id: str, settings: TrackingSettings) -> pd.DataFrame:
    """The test rows a training run logged."""
    import mlflow

    settings.apply()
    path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=TEST_ROWS)
    return pd.read_parquet(Path(path))


def label_rows(run_id: str, settings: TrackingSettings) -> pd.DataFrame | None:
    """Every labelled row with its true outcome, if the run logged them (synthetic data)."""
    settings.apply()
    client = settings.client()
    folder = Path(LABEL_ROWS).parent.as_posix()
    if LABEL_ROWS not in {f.path for f in client.list_artifacts(run_id, folder)}:
        return None
    path = client.download_artifacts(run_id, LABEL_ROWS)
    return pd.read_parquet(Path(path))


def score_with_version(name: str, version: str, rows: pd.DataFrame) -> pd.Series:
    """Probabilities from a registered model version for ``rows``."""
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    inputs = model.metadata.get_input_schema().input_names()
    return model.predict(rows[inputs])["probability"]


def challenger_version(name: str, settings: TrackingSettings):
    """The version with alias ``challenger``; LookupError saying what to do if there is none."""
    found = get_alias(name, "challenger", settings)
    if found is None:
        raise LookupError(
            f"{name} has no challenger: train one first (`lantern train --model {name}`)"
        )
    return found


def compare(name: str, settings: TrackingSettings, top_k_share: float = 0.02) -> Comparison:
    """Score the challenger and the champion (if any) on the challenger's test rows."""
    challenger = challenger_version(name, settings)
    rows = test_rows(challenger.run_id, settings)
    if label_column(name) not in rows:
        raise LookupError(f"the challenger's test rows have no {label_column(name)} column")
    y = rows[label_column(name)].to_numpy().astype(int)
    challenger_metrics = point_metrics(y, rows["score_lantern"].to_numpy(), top_k_share)
    champion = get_alias(name, "champion", settings)
    champion_metrics = None
    if champion is not None:
        scores = score_with_version(name, champion.version, rows)
        champion_metrics = point_metrics(y, scores.to_numpy(), top_k_share)
    return Comparison(
        name=name,
        challenger_version=str(challenger.version),
        champion_version=str(champion.version) if champion else None,
        challenger=challenger_metrics,
        champion=champion_metrics,
        test_rows=rows,
    )
