"""Turn one child's TreeSHAP contributions into plain-English reasons, strongest first.

The contributions come from the caller (``explain.treeshap`` or
``booster.predict(X, pred_contrib=True)``): one value per feature in the model's order and the
base value last, all in the booster's raw log-odds. Calibration is a straight line in log-odds
(``slope * margin + intercept``), so a feature's *weight* on the calibrated log-odds is
``slope * contribution``: positive weights raise concern, negative ones are protective.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from explain import wording
from features.build import AUDIT_COLUMNS
from features.registry import FeatureSpec, Registry, format_value

if TYPE_CHECKING:
    from models.scoring import ScoringModel

PROTECTED = frozenset({"ethnicity", "sex", "religion", *AUDIT_COLUMNS})
"""Names that are never model inputs, never reasons and never accepted in a record."""

MIN_WEIGHT = 0.01
"""Weights (calibrated log-odds) of at most this size are dropped: they change the odds by
about 1% or less, too little to name as a reason."""

MIN_SHARE = 0.05
"""A reason is named only if it carries at least 5% of the child's total weight: a smaller
part says nothing a practitioner could act on."""

TOP_N = 5
"""Reasons of each direction a prompt shows by default."""

SUMMARY_AGENCIES = 4
SUMMARY_MIN_SHARE = 0.05
"""The one-line summary names at most 4 agencies, each with at least 5% of the weight."""

ADDITIVITY_TOLERANCE = 1e-6
"""Largest gap (raw log-odds) allowed between base + contributions and the booster's output."""


@dataclass(frozen=True)
class Reason:
    """One feature's part in a child's estimate.

    Attributes
    ----------
    feature : str
        The feature's column name.
    sentence : str
        The registry description with the value, e.g. "Attendance over the last school term: 71%".
    direction : str
        :data:`explain.wording.RAISES_CONCERN` or :data:`explain.wording.PROTECTIVE`.
    agency : str
        The agency whose records the feature reads.
    value : float
        The raw feature value (NaN when not recorded).
    formatted_value : str
        The value as a person reads it.
    weight : float
        Its contribution to the calibrated log-odds (``slope * contribution``).
    share : float
        ``abs(weight)`` as a share of the total absolute weight of all the child's features.
    """

    feature: str
    sentence: str
    direction: str
    agency: str
    value: float
    formatted_value: str
    weight: float
    share: float

    def to_dict(self) -> dict:
        """JSON-ready fields (``value`` is None when not recorded)."""
        return {
            "feature": self.feature,
            "sentence": self.sentence,
            "direction": self.direction,
            "agency": self.agency,
            "value": None if math.isnan(self.value) else float(self.value),
            "formatted_value": self.formatted_value,
            "weight": round(float(self.weight), 4),
            "share": round(float(self.share), 4),
        }


@dataclass(frozen=True)
class AgencyWeight:
    """The summed weight of one agency's features for one child."""

    agency: str
    weight: float
    share: float
    direction: str

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {
            "agency": self.agency,
            "weight": round(float(self.weight), 4),
            "share": round(float(self.share), 4),
            "direction": self.direction,
        }


@dataclass(frozen=True)
class Explanation:
    """A child's reasons for one model.

    Attributes
    ----------
    concerns, protective : list of Reason
        The strongest reasons of each direction, strongest first.
    agencies : list of AgencyWeight
        Summed weight per agency, largest first (agencies with a negligible sum left out).
    summary : str
        One line: where the picture comes from.
    context : list of Reason
        Features the registry marks as context (age): part of the estimate, never named as
        reasons and not counted in an agency's weight.
    unrecorded : list of Reason
        Features not recorded for the child whose absence moved the estimate materially
        (as much as a reason must), strongest first: what the records do not show, never a
        reason.
    base_log_odds : float
        The calibrated log-odds before any of the child's records (the model's average).
    log_odds : float
        The child's calibrated log-odds: ``base_log_odds`` plus every feature's weight.
    """

    concerns: list[Reason]
    protective: list[Reason]
    agencies: list[AgencyWeight]
    summary: str
    base_log_odds: float
    log_odds: float
    context: list[Reason] = field(default_factory=list)
    unrecorded: list[Reason] = field(default_factory=list)


def direction_of(weight: float) -> str:
    """:data:`~explain.wording.RAISES_CONCERN` for a positive weight, else protective."""
    return wording.RAISES_CONCERN if weight > 0 else wording.PROTECTIVE


def missing_means_none(spec: FeatureSpec) -> bool:
    """Whether the feature is "time since an event", missing when the event never happened."""
    return spec.unit == "months" and spec.window == "ever"


def says_nothing(spec: FeatureSpec, value: float) -> bool:
    """Whether the value, read aloud, says nothing: a change of "+0 percentage points"."""
    return spec.unit == "points" and abs(value) < 0.5


def reads_against(spec: FeatureSpec, value: float, weight: float) -> bool:
    """Whether a flag's part runs against its declared direction: "abuse or neglect
    recorded" lowering concern, or its absence raising it. Training's monotone constraints
    make this rare; a reason that reads so is never shown."""
    if spec.unit != "flag" or spec.direction == "either" or math.isnan(value):
        return False
    rises = (value >= 0.5) == (weight > 0)
    return rises != (spec.direction == "raises")


def value_text(spec: FeatureSpec, value: float) -> str:
    """The value as a person reads it; "none on record" for a "time since" with no event."""
    if math.isnan(value) and missing_means_none(spec):
        return wording.NONE_ON_RECORD
    return format_value(float(value), spec.unit)


def check_not_protected(features: list[str]) -> None:
    """Raise ``ValueError`` when a model reads a protected characteristic."""
    protected = [name for name in features if name.lower() in PROTECTED]
    if protected:
        raise ValueError(
            f"the model reads protected characteristics {protected}: Lantern never explains or "
            "serves such a model; retrain it without them (they belong in the audit columns)"
        )


def explain_row(
    x: np.ndarray,
    contributions: np.ndarray,
    model: ScoringModel,
    registry: Registry,
    *,
    top_n: int = TOP_N,
    threshold: float = MIN_WEIGHT,
    min_share: float = MIN_SHARE,
) -> Explanation:
    """Reasons for one child's estimate, strongest first.

    A feature is named as a reason only if its weight is material (more than ``threshold``
    and at least ``min_share`` of the total), its value says something (not "+0 percentage
    points", :func:`says_nothing`), it is recorded (an unrecorded one is listed in
    ``unrecorded`` instead) and, for a flag, its part agrees with the registry's declared
    direction (:func:`reads_against`).

    Parameters
    ----------
    x : np.ndarray
        The child's feature values, 1-D, in ``model.features`` order (NaN: not recorded).
    contributions : np.ndarray
        The child's contributions to the raw margin: one per feature, then the base value.
    model : ScoringModel
        The model the contributions explain (its features and calibration).
    registry : Registry
        The feature registry: descriptions, units and agencies.
    top_n : int, default 5
        Reasons of each direction to keep.
    threshold : float, default :data:`MIN_WEIGHT`
        Weights (calibrated log-odds) of at most this size are not named.
    min_share : float, default :data:`MIN_SHARE`
        Smallest share of the child's total weight a named reason carries.

    Returns
    -------
    Explanation
    """
    check_not_protected(model.features)
    n = len(model.features)
    x = np.asarray(x, dtype=float)
    contributions = np.asarray(contributions, dtype=float)
    if x.shape != (n,):
        raise ValueError(
            f"the feature values have shape {x.shape}, expected ({n},): pass one child's "
            "values in the model's feature order"
        )
    if contributions.shape != (n + 1,):
        raise ValueError(
            f"the contributions have shape {contributions.shape}, expected ({n + 1},): one per "
            "feature and the base value last, as booster.predict(X, pred_contrib=True) gives"
        )
    specs = [registry[name] for name in model.features]
    weights = model.slope * contributions[:-1]
    total = float(np.abs(weights).sum())
    reasons, context, unrecorded = [], [], []
    for spec, value, weight in zip(specs, x.tolist(), weights.tolist(), strict=True):
        if spec.context:
            context.append(_reason(spec, value, weight, total))
        elif abs(weight) <= threshold:
            continue
        elif abs(weight) < min_share * total:
            continue
        elif math.isnan(value) and not missing_means_none(spec):
            unrecorded.append(_reason(spec, value, weight, total))
        elif not (says_nothing(spec, value) or reads_against(spec, value, weight)):
            reasons.append(_reason(spec, value, weight, total))
    reasons.sort(key=lambda r: (-abs(r.weight), r.feature))
    unrecorded.sort(key=lambda r: (-abs(r.weight), r.feature))
    if context:  # age is not an agency's record
        records = [i for i, spec in enumerate(specs) if not spec.context]
        agencies = agency_weights(
            [specs[i].agency for i in records], weights[records], threshold=threshold
        )
    else:
        agencies = agency_weights([spec.agency for spec in specs], weights, threshold=threshold)
    base = model.slope * contributions[-1] + model.intercept
    return Explanation(
        concerns=[r for r in reasons if r.weight > 0][:top_n],
        protective=[r for r in reasons if r.weight < 0][:top_n],
        agencies=agencies,
        summary=agency_summary(agencies),
        base_log_odds=float(base),
        log_odds=float(base + weights.sum()),
        context=context,
        unrecorded=unrecorded,
    )


def _reason(spec: FeatureSpec, value: float, weight: float, total: float) -> Reason:
    formatted = value_text(spec, value)
    if spec.unit == "flag" and not math.isnan(value):
        sentence = spec.reads(value)
    else:
        sentence = wording.REASON_SENTENCE.format(
            description=spec.description.rstrip("."), value=formatted
        )
    return Reason(
        feature=spec.name,
        sentence=sentence,
        direction=direction_of(weight),
        agency=spec.agency,
        value=float(value),
        formatted_value=formatted,
        weight=float(weight),
        share=abs(float(weight)) / total if total > 0 else 0.0,
    )


def agency_weights(
    agencies: list[str], weights: np.ndarray, *, threshold: float = MIN_WEIGHT
) -> list[AgencyWeight]:
    """Sum the weights of each agency's features; largest absolute sum first.

    Parameters
    ----------
    agencies : list of str
        The agency of each feature.
    weights : np.ndarray
        Each feature's weight (calibrated log-odds), in the same order.
    threshold : float
        Agencies whose summed weight is at most this size are left out.

    Returns
    -------
    list of AgencyWeight
        ``share`` is the agency's absolute sum over all agencies' absolute sums.
    """
    sums: dict[str, float] = {}
    for agency, weight in zip(agencies, np.asarray(weights, dtype=float).tolist(), strict=True):
        sums[agency] = sums.get(agency, 0.0) + weight
    total = sum(abs(w) for w in sums.values())
    kept = [
        AgencyWeight(agency, w, abs(w) / total, direction_of(w))
        for agency, w in sums.items()
        if abs(w) > threshold
    ]
    return sorted(kept, key=lambda a: (-abs(a.weight), a.agency))


def agency_summary(agencies: list[AgencyWeight]) -> str:
    """One line naming the agencies whose records shape the estimate most, and how.

    Names at most :data:`SUMMARY_AGENCIES` agencies, each with at least
    :data:`SUMMARY_MIN_SHARE` of the weight.
    """
    named = [a for a in agencies if a.share >= SUMMARY_MIN_SHARE][:SUMMARY_AGENCIES]
    if not named:
        return wording.AGENCY_SUMMARY_NONE
    parts = ", ".join(
        wording.AGENCY_PART.format(agency=a.agency, share=f"{a.share:.0%}", direction=a.direction)
        for a in named
    )
    return wording.AGENCY_SUMMARY.format(parts=parts)


def additivity_gap(model: ScoringModel, X: np.ndarray, contributions: np.ndarray) -> np.ndarray:
    """Per row, ``|base + sum(contributions) - raw margin|``; zero for exact TreeSHAP."""
    contributions = np.atleast_2d(np.asarray(contributions, dtype=float))
    return np.abs(contributions.sum(axis=1) - model.margin(np.atleast_2d(X)))


def calibrated_log_odds(model: ScoringModel, contributions: np.ndarray) -> np.ndarray:
    """The calibrated log-odds the contributions add up to (one per row)."""
    contributions = np.atleast_2d(np.asarray(contributions, dtype=float))
    return model.slope * contributions.sum(axis=1) + model.intercept


def check_additivity(
    model: ScoringModel,
    X: np.ndarray,
    contributions: np.ndarray,
    *,
    atol: float = ADDITIVITY_TOLERANCE,
) -> None:
    """Raise ``ValueError`` unless the contributions add up to the model's output on ``X``.

    A gap means the contributions were computed for another model or other feature values,
    and the reasons would not explain the estimate shown beside them.
    """
    X = np.atleast_2d(np.asarray(X, dtype=float))
    contributions = np.atleast_2d(np.asarray(contributions, dtype=float))
    expected = (X.shape[0], len(model.features) + 1)
    if contributions.shape != expected:
        raise ValueError(
            f"the contributions have shape {contributions.shape}, expected {expected}: one row "
            "per child, one column per feature and the base value last"
        )
    gap = additivity_gap(model, X, contributions)
    bad = np.flatnonzero(gap > atol)
    if bad.size:
        raise ValueError(
            f"the contributions of rows {bad[:10].tolist()} do not add up to the model's output "
            f"(largest gap {gap.max():.3g} log-odds): compute them with this model on these "
            "feature values"
        )
