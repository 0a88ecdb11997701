"""The registry's declared directions against the synthetic partnership's own outcome model.

The generator's outcome scores (``features.synth.outcome_model``) read the same feature
columns the models do. Raising one feature at a time and watching each score move is the
sign of its weight: every feature the generator uses must move it the way the registry
declares (a feature declared "either" may move it either way).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from features.registry import Registry, default_registry
from features.synth import SynthConfig
from features.synth import outcome_model as om

REGISTRY = default_registry()
SCORES = {
    "serious_violence": om.serious_violence_score,
    "permanent_exclusion": om.permanent_exclusion_score,
    "neet": om.neet_score,
}
STEP = {"rate": 0.05, "points": 5.0}
"""How far a feature is raised: one for counts, flags, years, months and days."""


def raised(x: pd.DataFrame, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``x`` with the feature at a lower and a higher value (flags: 0 and 1)."""
    spec = REGISTRY[name]
    low, high = x.copy(), x.copy()
    if spec.unit == "flag":
        low[name], high[name] = 0.0, 1.0
    else:
        value = x[name].fillna(x[name].median() if x[name].notna().any() else 0.0)
        if spec.unit == "rate":
            value = value.clip(0.0, 1.0 - STEP["rate"])
        low[name], high[name] = value, value + STEP.get(spec.unit, 1.0)
    return low, high


def moves(score, weights, x: pd.DataFrame, name: str) -> np.ndarray:
    low, high = raised(x, name)
    return score(high, weights) - score(low, weights)


@pytest.fixture(scope="module")
def sample(small_feature_table) -> pd.DataFrame:
    """Children of every age at every snapshot, as the generator scores them."""
    return small_feature_table.sample(4000, random_state=0).reset_index(drop=True)


def contradictions(outcome: str, x: pd.DataFrame, registry=REGISTRY):
    """The features the generator's ``outcome`` score uses, and those that move it against
    their declared direction (name, declaration, the largest contrary change)."""
    weights = getattr(SynthConfig().mechanics(), outcome)
    used, wrong = [], []
    for name, spec in registry.items():
        change = moves(SCORES[outcome], weights, x, name)
        if np.allclose(change, 0.0):
            continue
        used.append(name)
        if spec.direction == "raises" and (change < -1e-12).any():
            wrong.append((name, "raises", float(change.min())))
        if spec.direction == "protective" and (change > 1e-12).any():
            wrong.append((name, "protective", float(change.max())))
    return used, wrong


@pytest.mark.parametrize("outcome", SCORES)
def test_every_feature_the_generator_uses_acts_in_its_declared_direction(outcome, sample):
    used, wrong = contradictions(outcome, sample)
    assert not wrong, f"the generator's {outcome} weights contradict the registry: {wrong}"
    assert {"suspensions_12m", "attendance_12m"} <= set(used), used  # it saw the main drivers


def test_a_flipped_declaration_is_caught(sample):
    flipped = Registry(
        replace(spec, direction="protective") if name == "suspensions_12m" else spec
        for name, spec in REGISTRY.items()
    )
    _, wrong = contradictions("permanent_exclusion", sample, flipped)
    assert [w[:2] for w in wrong] == [("suspensions_12m", "protective")]
