"""The overview's MLflow edge: read a feature table, score it with each champion, and build
the overview (:func:`governance.overview.partnership_overview`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from governance.overview import partnership_overview
from governance.overview_result import Overview

if TYPE_CHECKING:
    from models.tracking import TrackingSettings

__all__ = ["champion_scores", "overview_for_partnership", "read_feature_table"]


def read_feature_table(path: Path) -> pd.DataFrame:
    """A feature table written by ``lantern features`` (Parquet, or CSV by its suffix)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"feature table {path} does not exist; build one with `lantern features`"
        )
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path, parse_dates=["snapshot_date"])
    return pd.read_parquet(path)


def champion_scores(name: str, table: pd.DataFrame, settings: TrackingSettings):
    """Score ``table`` with ``name``'s champion.

    Returns
    -------
    tuple or None
        ``(scores, champion, params)``: one probability per row, the champion's
        ``ModelVersion`` and its run's params; None when the model has no champion.
    """
    from models.scoring import as_matrix
    from models.versions import load_champion

    champion = load_champion(name, settings)
    if champion is None:
        return None
    params = settings.client().get_run(champion.run_id).data.params
    scores = champion.model.predict_proba(as_matrix(table, champion.model.features))
    return scores, champion.version, params


def overview_for_partnership(
    features_path: Path,
    settings: TrackingSettings,
    *,
    models: Sequence[str] | None = None,
    capacities: Mapping[str, float] | None = None,
    **options: Any,
) -> Overview:
    """Read a feature table, score it with each model's champion and build the overview.

    Parameters
    ----------
    features_path : Path
        The feature table (``lantern features``).
    settings : TrackingSettings
        The MLflow store holding the champions and their fairness audits.
    models : sequence of str, optional
        Which models (default: every outcome of ``features/outcomes.yaml``).
    capacities : mapping of str to float, optional
        Each team's capacity; default: the share each champion was trained and audited at
        (its run's ``top_k_share``).
    **options
        Passed to :func:`partnership_overview` (tolerance, min_cell, quarters...).

    Raises
    ------
    FileNotFoundError
        If the feature table is missing.
    LookupError
        If no model has a champion.
    """
    from features.outcomes import load_outcomes
    from models.artifacts import FAIRNESS_REPORT_JSON
    from models.tracking import load_run_artifact_json

    table = read_feature_table(features_path)
    names = list(models) if models else list(load_outcomes())
    scores, caps, audits, sources, notes = {}, {}, {}, {}, []
    for name in names:
        found = champion_scores(name, table, settings)
        if found is None:
            notes.append(
                f"{name} has no champion, so it is not shown: promote one first "
                f"(`lantern promote --model {name}`)"
            )
            continue
        scores[name], champion, params = found
        caps[name] = (capacities or {}).get(name) or float(params.get("top_k_share", 0.02))
        audits[name] = load_run_artifact_json(champion.run_id, FAIRNESS_REPORT_JSON, settings)
        sources[name] = f"{name} v{champion.version} (champion), run {champion.run_id}"
        if audits[name] is None:
            notes.append(
                f"{name} v{champion.version} has no fairness audit: run `lantern audit "
                f"--model {name} --version {champion.version}`"
            )
    if not scores:
        raise LookupError(
            f"none of {names} has a champion: train, audit and promote one first "
            "(`lantern train`, `lantern audit --model M`, `lantern promote --model M`)"
        )
    return partnership_overview(
        table, scores, caps, audits=audits, sources=sources, notes=notes, **options
    )
