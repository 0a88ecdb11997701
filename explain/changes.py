"""What would change: the model's estimate if one actionable record were at a typical level.

The registry marks the records that can change (attendance, suspensions, NEET status,
missing episodes; never history, area or age) with a ``lever`` and a ``typical`` level. For
each lever that applies to the child (a recorded value worse than typical), the record is
copied with that lever's features at their typical levels, and the model scores the copy.
The sentence says what the records would show and what the model estimates for such a
record; it promises nothing about cause.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from explain import wording
from explain.standing import Band, band_for, frequency_words
from features.registry import FeatureSpec, Registry

if TYPE_CHECKING:
    from models.scoring import ScoringModel


@dataclass(frozen=True)
class Change:
    """One actionable change and the model's estimate with it.

    Attributes
    ----------
    lever : str
        The registry's name for the change (``"attendance"``).
    features : list of str
        The model's features it moves, each to its typical level.
    probability : float
        The model's calibrated probability for the changed record.
    band : Band
        The band that holds it (a probability is never served without one).
    sentence : str
        "If the records showed attendance back at 95%: about 1 in 12 rather than 1 in 4".
    """

    lever: str
    features: list[str]
    probability: float
    band: Band
    sentence: str

    def to_dict(self) -> dict:
        """JSON-ready fields, with the note that it is no promise of cause."""
        return {
            "lever": self.lever,
            "features": list(self.features),
            "probability": round(self.probability, 4),
            "band": self.band.to_dict(),
            "sentence": self.sentence,
            "note": wording.CHANGE_NOTE,
        }


def worse_than_typical(spec: FeatureSpec, value: float) -> bool:
    """Whether a recorded value is on the concerning side of its typical level."""
    if math.isnan(value) or spec.typical is None:
        return False
    if spec.direction == "protective":
        return value < spec.typical
    if spec.direction == "raises":
        return value > spec.typical
    return value != spec.typical


def changed_records(
    x: np.ndarray, features: list[str], registry: Registry
) -> dict[str, tuple[list[str], np.ndarray]]:
    """For each lever that applies to the record ``x``: the features it moves and the record
    with each of them (where recorded) at its typical level."""
    x = np.asarray(x, dtype=float)
    levers: dict[str, list[int]] = {}
    for j, name in enumerate(features):
        spec = registry[name] if name in registry else None
        if spec is not None and spec.lever:
            levers.setdefault(spec.lever, []).append(j)
    found = {}
    for lever, columns in levers.items():
        if not any(worse_than_typical(registry[features[j]], x[j]) for j in columns):
            continue
        changed = x.copy()
        moved = [j for j in columns if not math.isnan(x[j])]
        for j in moved:
            changed[j] = registry[features[j]].typical
        found[lever] = ([features[j] for j in moved], changed)
    return found


def what_would_change(
    model: ScoringModel,
    x: np.ndarray,
    registry: Registry,
    probability: float,
    window_months: int = 12,
    explainer: Callable[[np.ndarray], np.ndarray] | None = None,
) -> list[Change]:
    """The model's estimate for ``x`` with each applicable lever at its typical level.

    Parameters
    ----------
    model : ScoringModel
        The model (it scores the changed records).
    x : np.ndarray
        The child's feature values, 1-D, in ``model.features`` order.
    registry : Registry
        Levers and typical levels.
    probability : float
        The child's estimate as the prompt shows it.
    window_months : int, default 12
        The outcome's window, for each changed estimate's band.
    explainer : callable, optional
        The served model's exact TreeSHAP (``X -> contributions``): the changed records are
        scored from their contributions, as the prompt's own estimate is, which on a served
        model is quicker than running the booster (the same number to 1e-12). Default: the
        booster.

    Returns
    -------
    list of Change
        In the order the levers first appear among the model's features.
    """
    records = changed_records(x, model.features, registry)
    if not records:
        return []
    changed = np.vstack([record for _, record in records.values()])
    if explainer is None:
        scored = model.predict_proba(changed)
    else:
        scored = model.proba_from_contributions(explainer(changed))
    old = frequency_words(probability)
    changes = []
    for (lever, (moved, _)), p in zip(records.items(), scored.tolist(), strict=True):
        new = frequency_words(p)
        words = wording.LEVERS.get(lever, lever)
        template = wording.CHANGE_SAME if new == old else wording.CHANGE_SENTENCE
        sentence = template.format(lever=words, new=new, old=old)
        changes.append(Change(lever, moved, float(p), band_for(p, window_months), sentence))
    return changes
