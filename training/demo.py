"""Champions for a local service on a synthetic partnership, in one call."""

from __future__ import annotations

import pandas as pd

from features.outcomes import load_outcomes
from models.tracking import TrackingSettings
from training.config import load_training_settings
from training.pipeline import train_and_register
from training.promotion import PromotionPolicy, promote


def train_and_promote(
    table: pd.DataFrame,
    tracking: TrackingSettings,
    *,
    seed: int = 7,
    reason: str = "a local service on a synthetic partnership",
    bootstrap: int = 20,
) -> None:
    """Train every outcome's model on ``table``, register them and force them to champion.

    For a local service on synthetic data (tests, benchmarks, demos): a model worse than its
    baselines is registered all the same (its card says so), and the promotion is forced with
    ``reason``, skipping the fairness audit, and the tag says so.
    """
    settings = load_training_settings().model_copy(update={"bootstrap": bootstrap, "seed": seed})
    settings = settings.registering_when_worse()  # a demonstration: see the docstring
    results = train_and_register(table, list(load_outcomes().root), settings, tracking)
    for result in results:
        promote(
            result.outcome,
            challenger_metrics=dict(result.evaluation.metrics["lantern"].point),
            champion_metrics=None,
            fairness_result=None,
            policy=PromotionPolicy(),
            settings=tracking,
            force=True,
            reason=reason,
            version=result.version,
        )
