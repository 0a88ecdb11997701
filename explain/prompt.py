"""The advisory prompt: one child's estimate with its band, rank, reasons and missing records.

A prompt never carries a bare score. The calibrated probability always travels with its band
and what the band means, the child's place in the partnership's cohort, the reasons on both
sides, the records that are missing, the advisory notice and the invitation to record a
professional judgement.

Missing records
---------------
A feature that is NaN is "not recorded", which is not "no concern": the prompt lists the
missing features by source with a sentence saying so. Two kinds of NaN are not missing
records: a "time since" feature whose event never happened (see
:func:`explain.reasons.missing_means_none`), and a source that does not keep records at the
child's age (:data:`EXPECTED_AGES`: the school census ends with compulsory school age, the
careers service tracks young people from 16), as the synthetic partnership's feature table
shows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

import numpy as np

from explain import wording
from explain.changes import Change, what_would_change
from explain.reasons import (
    MIN_SHARE,
    MIN_WEIGHT,
    TOP_N,
    Explanation,
    Reason,
    check_additivity,
    explain_row,
    missing_means_none,
)
from explain.standing import TIE_TOLERANCE, Band, Rank, band_for, iso_date, rank_in_cohort
from features.outcomes import Outcome
from features.registry import Registry

if TYPE_CHECKING:
    from models.scoring import ScoringModel

AGE_FEATURE = "age_years"

EXPECTED_AGES = {"school_census": (0.0, 16.0), "education_status": (16.0, 25.0)}
"""Ages (inclusive) at which a source keeps records; outside them its NaN is not "missing"."""


@dataclass(frozen=True)
class ServedModel:
    """A scoring model as served: its version and what its outcome means.

    Attributes
    ----------
    model : ScoringModel
        The booster, its calibration and features.
    version : str
        The registry version serving the prompt.
    outcome : Outcome
        The outcome definition (``features/outcomes.yaml``): description and window.
    trained_at, test_date : str, optional
        When the model was trained, and the snapshot date it was tested on.
    """

    model: ScoringModel
    version: str
    outcome: Outcome
    trained_at: str | None = None
    test_date: str | None = None

    @property
    def title(self) -> str:
        """What the outcome is, in words, with its window."""
        return outcome_title(self.outcome)


@dataclass(frozen=True)
class MissingRecord:
    """One source's features that are not recorded for the child."""

    agency: str
    source: str
    features: list[str]
    sentence: str

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {
            "agency": self.agency,
            "source": self.source,
            "features": list(self.features),
            "sentence": self.sentence,
        }


@dataclass(frozen=True)
class ModelPrompt:
    """One model's part of a prompt."""

    model: str
    title: str
    version: str
    probability: float
    band: Band
    rank: Rank
    explanation: Explanation
    missing: list[MissingRecord]
    trained_at: str | None = None
    test_date: str | None = None
    context: list[dict] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    unrecorded: list[Reason] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        when = {
            key: value
            for key, value in (("trained_at", self.trained_at), ("test_date", self.test_date))
            if value is not None
        }
        return {
            "model": self.model,
            "title": self.title,
            "version": self.version,
            **when,
            "probability": round(self.probability, 4),
            "band": self.band.to_dict(),
            "rank": self.rank.to_dict(),
            "reasons": [r.to_dict() for r in self.explanation.concerns],
            "protective": [r.to_dict() for r in self.explanation.protective],
            "agencies": [a.to_dict() for a in self.explanation.agencies],
            "where_from": self.explanation.summary,
            "context": self.context,
            "missing": [m.to_dict() for m in self.missing],
            "unrecorded": [unrecorded_dict(r) for r in self.unrecorded],
            "what_would_change": [c.to_dict() for c in self.changes],
        }


@dataclass(frozen=True)
class AdvisoryPrompt:
    """The advisory prompt for one child: one section per model."""

    prompt_id: str
    child_id: str
    snapshot_date: str
    purpose: str
    issued_at: str
    models: list[ModelPrompt]
    advisory_notice: str = wording.ADVISORY_NOTICE
    judgement_invitation: str = wording.JUDGEMENT_INVITATION
    linkage: dict | None = None
    """How confidently the child's records were linked (:func:`explain.provenance.linkage_note`);
    None when the service was not given the linkage."""

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {
            "prompt_id": self.prompt_id,
            "child_id": self.child_id,
            "snapshot_date": self.snapshot_date,
            "purpose": self.purpose,
            "issued_at": self.issued_at,
            "advisory_notice": self.advisory_notice,
            "judgement_invitation": self.judgement_invitation,
            "models": [m.to_dict() for m in self.models],
            "linkage": self.linkage,
        }


@dataclass(frozen=True)
class CohortEntry:
    """One child on a team's cohort list."""

    position: int
    child_id: str
    probability: float
    band: Band
    percent_higher: float
    reasons: list[Reason]
    protective: list[Reason]

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {
            "position": self.position,
            "child_id": self.child_id,
            "probability": round(self.probability, 4),
            "band": self.band.to_dict(),
            "percent_higher": round(self.percent_higher, 2),
            "reasons": [r.to_dict() for r in self.reasons],
            "protective": [r.to_dict() for r in self.protective],
        }


@dataclass(frozen=True)
class CohortList:
    """A team's list: its capacity's worth of children, highest estimated likelihood first."""

    model: str
    title: str
    cohort_size: int
    capacity: int
    children: list[CohortEntry]
    advisory_notice: str = wording.ADVISORY_NOTICE
    judgement_invitation: str = wording.JUDGEMENT_INVITATION

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {
            "model": self.model,
            "title": self.title,
            "cohort_size": self.cohort_size,
            "capacity": self.capacity,
            "advisory_notice": self.advisory_notice,
            "judgement_invitation": self.judgement_invitation,
            "children": [c.to_dict() for c in self.children],
        }


def outcome_title(outcome: Outcome) -> str:
    """The outcome's description, with its window added when the description lacks it."""
    description = " ".join(outcome.description.split())
    if f"{outcome.window_months} months" in description:
        return description
    return wording.TITLE_WINDOW.format(
        description=description.rstrip("."), months=outcome.window_months
    )


def unrecorded_dict(reason: Reason) -> dict:
    """An unrecorded feature's part, with the sentence saying how far its absence moved the
    estimate."""
    verb = wording.UNRECORDED_RAISED if reason.weight > 0 else wording.UNRECORDED_LOWERED
    description = reason.sentence.removesuffix(": " + reason.formatted_value)
    return reason.to_dict() | {
        "sentence": wording.UNRECORDED_EFFECT.format(
            description=description, verb=verb, share=f"{reason.share:.0%}"
        )
    }


def missing_records(x: np.ndarray, features: list[str], registry: Registry) -> list[MissingRecord]:
    """The child's features that are not recorded, grouped by source, each with a sentence.

    Parameters
    ----------
    x : np.ndarray
        The child's feature values in ``features`` order (NaN: not recorded).
    features : list of str
        The model's features.
    registry : Registry
        Descriptions, sources and agencies.

    Returns
    -------
    list of MissingRecord
        In the order the sources first appear among ``features``.
    """
    x = np.asarray(x, dtype=float)
    values = dict(zip(features, x.tolist(), strict=True))
    age = values.get(AGE_FEATURE, math.nan)
    found = []
    for source, names in registry.by_source(features).items():
        low, high = EXPECTED_AGES.get(source, (-math.inf, math.inf))
        if not math.isnan(age) and not low <= age <= high:
            continue
        missing = [
            n for n in names if math.isnan(values[n]) and not missing_means_none(registry[n])
        ]
        if not missing:
            continue
        agency = registry[names[0]].agency
        if len(missing) == len(names):
            sentence = wording.MISSING_RECORD.get(
                source, wording.MISSING_RECORD_OTHER.format(agency=agency)
            )
        else:
            items = "; ".join(_lower_first(registry[n].description.rstrip(".")) for n in missing)
            sentence = wording.MISSING_SOME.format(agency=agency, items=items)
        found.append(MissingRecord(agency, source, missing, sentence))
    return found


def _lower_first(text: str) -> str:
    return text[0].lower() + text[1:] if len(text) > 1 and text[1].islower() else text


def context_notes(context: list[Reason], outcome: Outcome) -> list[dict]:
    """The context a prompt shows beside its reasons (age: who the outcome can happen to).

    Each note carries the sentence, the feature and value, and the weight the model gives it,
    so that nothing in the estimate is hidden; it is never listed as a reason.
    """
    notes = []
    for item in context:
        sentence = item.sentence
        if item.feature == AGE_FEATURE and not math.isnan(item.value):
            sentence = age_sentence(item.value, outcome)
        notes.append(
            {
                "feature": item.feature,
                "sentence": sentence,
                "value": None if math.isnan(item.value) else float(item.value),
                "weight": round(float(item.weight), 4),
                "share": round(float(item.share), 4),
                "note": wording.CONTEXT_NOTE,
            }
        )
    return notes


def age_sentence(age: float, outcome: Outcome) -> str:
    """E.g. "Aged 16: NEET is possible at this age; permanent exclusion is not"."""
    parts = [wording.AGE_CONTEXT.format(age=f"{age:.0f}")]
    possible, other = outcome.possible_at(age)

    def joined(labels: list[str]) -> tuple[str, str]:
        return " and ".join(labels), "is" if len(labels) == 1 else "are"

    clauses = []
    if possible:
        labels, verb = joined(possible)
        clauses.append(wording.AGE_POSSIBLE.format(labels=labels, verb=verb))
    if other:
        labels, verb = joined(other)
        clauses.append(wording.AGE_NOT_POSSIBLE.format(labels=labels, verb=verb))
    if clauses:
        parts.append("; ".join(clauses))
    return ": ".join(parts)


def model_prompt(
    served: ServedModel,
    x: np.ndarray,
    contributions: np.ndarray,
    registry: Registry,
    cohort_scores: np.ndarray,
    *,
    snapshot_date,
    top_n: int = TOP_N,
    threshold: float = MIN_WEIGHT,
    min_share: float = MIN_SHARE,
    verify: bool = False,
    cohort_checked: bool = False,
    explainer: Callable[[np.ndarray], np.ndarray] | None = None,
) -> ModelPrompt:
    """One model's section of a child's prompt.

    Parameters
    ----------
    served : ServedModel
        The model, its version and outcome definition.
    x : np.ndarray
        The child's feature values, 1-D, in ``served.model.features`` order.
    contributions : np.ndarray
        The child's TreeSHAP contributions (features, then the base value), for this model.
    registry : Registry
        The feature registry.
    cohort_scores : np.ndarray
        The cohort's calibrated probabilities at the same snapshot, sorted ascending.
    snapshot_date : date-like
        The snapshot the features describe.
    top_n : int, default 5
        Reasons of each direction to show.
    threshold : float, default :data:`explain.reasons.MIN_WEIGHT`
        Weights at most this size are not named.
    min_share : float, default :data:`explain.reasons.MIN_SHARE`
        Smallest share of the child's total weight a named reason carries.
    verify : bool, default False
        Also run the booster and check the contributions add up to its output
        (:func:`explain.reasons.check_additivity`). The probability shown is always computed
        from the contributions themselves, so it is the number the reasons explain; the check
        guards against contributions from another model or other values, at the cost of a
        booster call per prompt (the explainers are checked against LightGBM in the tests).
    cohort_checked : bool, default False
        ``cohort_scores`` is known to be sorted and free of NaN (see :func:`rank_in_cohort`).
    explainer : callable, optional
        The model's exact TreeSHAP (``X -> contributions``), to score what would change
        (:func:`explain.changes.what_would_change`); default the booster.

    Returns
    -------
    ModelPrompt
    """
    model = served.model
    x = np.asarray(x, dtype=float)
    explanation = explain_row(
        x, contributions, model, registry, top_n=top_n, threshold=threshold, min_share=min_share
    )
    if verify:
        check_additivity(model, x, contributions)
    probability = float(model.proba_from_contributions(contributions)[0])
    missing = missing_records(x, model.features, registry)
    listed = {name for record in missing for name in record.features}
    return ModelPrompt(
        model=model.outcome,
        title=served.title,
        version=str(served.version),
        probability=probability,
        band=band_for(probability, served.outcome.window_months),
        rank=rank_in_cohort(probability, cohort_scores, snapshot_date, checked=cohort_checked),
        explanation=explanation,
        missing=missing,
        trained_at=served.trained_at,
        test_date=served.test_date,
        context=context_notes(explanation.context, served.outcome),
        changes=what_would_change(model, x, registry, probability, served.outcome.window_months),
        # a gap counts where the source keeps records at this age
        unrecorded=[r for r in explanation.unrecorded if r.feature in listed],
    )


def advisory_prompt(
    *,
    prompt_id: str,
    child_id: str,
    snapshot_date,
    purpose: str,
    issued_at: datetime | str,
    models: Sequence[ModelPrompt],
    linkage: dict | None = None,
) -> AdvisoryPrompt:
    """A child's advisory prompt from one or more model sections.

    Parameters
    ----------
    prompt_id : str
        A unique id for this prompt (the audit log records it).
    child_id : str
        The child's pseudonymised id.
    snapshot_date : date-like
        The snapshot the features describe.
    purpose : str
        The practitioner's stated purpose.
    issued_at : datetime or str
        When the prompt was issued (the caller's clock).
    models : sequence of ModelPrompt
        One section per model, each from :func:`model_prompt`.
    linkage : dict, optional
        How confidently the child's records were linked (:func:`explain.provenance.linkage_note`).

    Returns
    -------
    AdvisoryPrompt
    """
    if not purpose or not purpose.strip():
        raise ValueError(
            "the prompt has no stated purpose: say why the prompt is requested (it is recorded "
            "in the audit log)"
        )
    if not models:
        raise ValueError("the prompt has no model sections: pass at least one model_prompt(...)")
    names = [m.model for m in models]
    if len(set(names)) != len(names):
        raise ValueError(f"the prompt repeats a model ({names}): pass one section per model")
    when = issued_at.isoformat() if isinstance(issued_at, datetime | date) else str(issued_at)
    return AdvisoryPrompt(
        prompt_id=str(prompt_id),
        child_id=str(child_id),
        snapshot_date=iso_date(snapshot_date),
        purpose=purpose.strip(),
        issued_at=when,
        models=list(models),
        linkage=linkage,
    )


def cohort_list(
    model: ScoringModel,
    X: np.ndarray,
    child_ids: Sequence,
    capacity: int,
    contributions_fn: Callable[[np.ndarray], np.ndarray],
    registry: Registry,
    top_reasons: int = 3,
    *,
    outcome: Outcome | None = None,
    threshold: float = MIN_WEIGHT,
    min_share: float = MIN_SHARE,
    probability: np.ndarray | None = None,
) -> CohortList:
    """A team's top-``capacity`` children by calibrated probability, with their top reasons.

    Only the listed children are explained: ``contributions_fn`` is called once, on their rows.

    Parameters
    ----------
    model : ScoringModel
        The model to rank by.
    X : np.ndarray
        The cohort's features (one row per child, ``model.features`` order).
    child_ids : sequence
        The children's pseudonymised ids, one per row.
    capacity : int
        How many children the team can see.
    contributions_fn : callable
        ``contributions_fn(X_top)`` -> TreeSHAP contributions of those rows.
    registry : Registry
        The feature registry.
    top_reasons : int, default 3
        Reasons of each direction per child.
    outcome : Outcome, optional
        The outcome definition, for the title and window (default: the model's name, 12 months).
    threshold : float, default :data:`explain.reasons.MIN_WEIGHT`
        Weights at most this size are not named.
    min_share : float, default :data:`explain.reasons.MIN_SHARE`
        Smallest share of a child's total weight a named reason carries.
    probability : np.ndarray, optional
        The model's calibrated probabilities for ``X``, where the caller already holds them
        (the service scores its cohort once at load); computed here otherwise.

    Returns
    -------
    CohortList
        Highest probability first; ties in child-id order.
    """
    X = np.asarray(X, dtype=float)
    ids = [str(i) for i in child_ids]
    if X.ndim != 2 or X.shape[1] != len(model.features):
        raise ValueError(
            f"X has shape {X.shape}, expected (children, {len(model.features)}): one row per "
            "child in the model's feature order"
        )
    if len(ids) != X.shape[0]:
        raise ValueError(f"{len(ids)} child ids for {X.shape[0]} rows: pass one id per row")
    if isinstance(capacity, bool) or not isinstance(capacity, int | np.integer) or capacity < 1:
        raise ValueError(f"capacity {capacity!r} is not a whole number of children of 1 or more")
    probability = model.predict_proba(X) if probability is None else np.asarray(probability)
    order = np.lexsort((np.asarray(ids, dtype=str), -probability))
    top = order[: int(capacity)]
    contributions = np.asarray(contributions_fn(X[top]), dtype=float)
    check_additivity(model, X[top], contributions)
    window = outcome.window_months if outcome else 12
    size = X.shape[0]
    entries = []
    for position, (row, contribution) in enumerate(zip(top, contributions, strict=True), start=1):
        explanation = explain_row(
            X[row],
            contribution,
            model,
            registry,
            top_n=top_reasons,
            threshold=threshold,
            min_share=min_share,
        )
        higher = int(np.sum(probability > probability[row] + TIE_TOLERANCE))
        entries.append(
            CohortEntry(
                position=position,
                child_id=ids[row],
                probability=float(probability[row]),
                band=band_for(probability[row], window),
                percent_higher=100.0 * higher / size,
                reasons=explanation.concerns,
                protective=explanation.protective,
            )
        )
    return CohortList(
        model=model.outcome,
        title=outcome_title(outcome) if outcome else model.outcome,
        cohort_size=size,
        capacity=int(capacity),
        children=entries,
    )
