"""The promotion gate: the alias ``champion`` moves only when every gate passes.

A challenger is compared with the champion on metrics both computed on the same, latest
data (the caller guarantees it) and must have passed its fairness audit. Every decision is
recorded on the challenger version as tags, whether it was promoted or refused; a refusal
moves no alias. ``force`` overrides failed gates only with a reason, which is recorded.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import pydantic
from mlflow import MlflowClient

from models.artifacts import FAIRNESS_ARTIFACT
from models.tracking import (
    CHALLENGER,
    CHAMPION,
    TrackingSettings,
    _sigint_ignored,
    get_alias,
    is_complete,
)
from models.versions import seal_champion

__all__ = [
    "FAIRNESS_ARTIFACT",
    "Gate",
    "PromotionDecision",
    "PromotionPolicy",
    "fairness_gate",
    "performance_gates",
    "promote",
]

_log = logging.getLogger(__name__)

DECISION_TAG = "lantern.promotion.decision"
GATES_TAG = "lantern.promotion.gates"
AT_TAG = "lantern.promotion.at"
REASON_TAG = "lantern.promotion.reason"
PREVIOUS_CHAMPION_TAG = "lantern.promotion.previous_champion"
_EPS = 1e-12  # so a difference exactly at the tolerance is not lost to rounding


@dataclass
class Gate:
    """One check a challenger must pass.

    Attributes
    ----------
    name : str
        Short name, e.g. ``"auc"``.
    passed : bool
        Whether the challenger passed.
    reason : str
        Why, in plain English, with the numbers.
    """

    name: str
    passed: bool
    reason: str


class PromotionPolicy(pydantic.BaseModel):
    """How much worse than the champion a challenger may be.

    Attributes
    ----------
    auc_tolerance : float
        The challenger's AUC may be at most this much below the champion's.
    ece_tolerance : float
        The challenger's expected calibration error may be at most this much above.
    require_fairness : bool
        Whether the challenger must have passed its fairness audit.
    """

    model_config = pydantic.ConfigDict(frozen=True)

    auc_tolerance: float = pydantic.Field(default=0.01, ge=0)
    ece_tolerance: float = pydantic.Field(default=0.01, ge=0)
    require_fairness: bool = True


def _metric(metrics: dict[str, float], key: str, whose: str) -> float:
    """``metrics[key]`` as a float, with a clear error when it is missing."""
    if key not in metrics:
        raise ValueError(f"the {whose}'s metrics have no {key!r} (got {sorted(metrics)})")
    return float(metrics[key])


def _auc_gate(challenger: float, champion: float, tolerance: float, what: str) -> Gate:
    drop = champion - challenger
    passed = not math.isnan(drop) and drop <= tolerance + _EPS
    if passed and drop <= 0:
        change = f"{-drop:.3f} above it"
    else:
        verdict = "within" if passed else "more than"
        change = f"{drop:.3f} below it, {verdict} the {tolerance:.3f} allowed"
    return Gate("auc", passed, f"{what} {challenger:.3f} vs champion {champion:.3f}: {change}")


def _ece_gate(challenger: float, champion: float, tolerance: float) -> Gate:
    rise = challenger - champion
    passed = not math.isnan(rise) and rise <= tolerance + _EPS
    if passed and rise <= 0:
        change = f"{-rise:.3f} better"
    else:
        verdict = "within" if passed else "more than"
        change = f"{rise:.3f} worse, {verdict} the {tolerance:.3f} allowed"
    return Gate(
        "ece",
        passed,
        f"calibration error (ECE) {challenger:.3f} vs champion {champion:.3f}: {change}",
    )


def performance_gates(
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    policy: PromotionPolicy,
) -> list[Gate]:
    """Compare the challenger's AUC and ECE with the champion's.

    Parameters
    ----------
    challenger, champion : dict of str to float
        Metrics with keys ``auc`` and ``ece``, both computed on the same latest data, and
        ``auc_within_age`` where the rows have ages: the AUC gate then compares that
        headline, which age alone cannot earn. ``champion`` is None when there is no
        champion yet.
    policy : PromotionPolicy
        The tolerances.

    Returns
    -------
    list of Gate
        The ``auc`` and ``ece`` gates; both pass when there is no champion.
    """
    compared = [challenger] if champion is None else [challenger, champion]
    within = [m.get("auc_within_age", math.nan) for m in compared]
    key = "auc_within_age" if all(math.isfinite(v) for v in within) else "auc"
    what = "AUC within age" if key == "auc_within_age" else "AUC"
    auc = _metric(challenger, key, "challenger")
    ece = _metric(challenger, "ece", "challenger")
    if champion is None:
        return [
            Gate("auc", True, f"no champion yet (challenger {what} {auc:.3f})"),
            Gate("ece", True, f"no champion yet (challenger ECE {ece:.3f})"),
        ]
    return [
        _auc_gate(auc, _metric(champion, key, "champion"), policy.auc_tolerance, what),
        _ece_gate(ece, _metric(champion, "ece", "champion"), policy.ece_tolerance),
    ]


def fairness_gate(result: dict | None, policy: PromotionPolicy, *, model: str = "M") -> Gate:
    """Read the challenger's fairness audit result.

    Parameters
    ----------
    result : dict or None
        The audit's result (artifact :data:`FAIRNESS_ARTIFACT` of the challenger run), with
        at least ``{"passed": bool, "reasons": [str, ...]}``; None if there is none.
    policy : PromotionPolicy
        Whether fairness is required.
    model : str, optional
        The model's name, used in the instruction when the audit is missing.

    Returns
    -------
    Gate
        The ``fairness`` gate.
    """
    if not policy.require_fairness:
        outcome = "none" if result is None else f"passed={result.get('passed')}"
        return Gate("fairness", True, f"not required by the policy (audit: {outcome})")
    if result is None:
        return Gate(
            "fairness",
            False,
            f"no fairness audit for this version: run `lantern audit --model {model}` first",
        )
    if not isinstance(result.get("passed"), bool):
        return Gate("fairness", False, "the fairness result has no true/false 'passed' field")
    reasons = "; ".join(str(r) for r in result.get("reasons") or []) or "no reasons given"
    verdict = "passed" if result["passed"] else "failed"
    return Gate("fairness", result["passed"], f"fairness audit {verdict}: {reasons}")


@dataclass
class PromotionDecision:
    """What :func:`promote` decided.

    Attributes
    ----------
    promoted : bool
        Whether ``champion`` now points at ``version``.
    gates : list of Gate
        Every gate, passed or not.
    version : str
        The challenger version considered.
    previous_champion : str or None
        The champion's version before the decision (None if there was none).
    name : str
        The registered model.
    forced : bool
        Promoted with ``force`` although a gate failed.
    reason : str or None
        The analyst's reason for forcing.
    """

    promoted: bool
    gates: list[Gate]
    version: str
    previous_champion: str | None
    name: str = ""
    forced: bool = False
    reason: str | None = None
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def decision(self) -> str:
        """``"promoted"``, ``"forced"`` or ``"refused"``."""
        if self.forced:
            return "forced"
        return "promoted" if self.promoted else "refused"

    def summary(self) -> str:
        """A short plain-text table of the decision and its gates."""
        if self.previous_champion:
            was = f"v{self.previous_champion}"
            champion = f"champion was {was}" if self.promoted else f"champion stays {was}"
        else:
            champion = "first champion" if self.promoted else "still no champion"
        lines = [f"{self.name} v{self.version}: {self.decision.upper()} ({champion})"]
        width = max(len(g.name) for g in self.gates)
        lines += [
            f"  {g.name:<{width}}  {'pass' if g.passed else 'FAIL'}  {g.reason}" for g in self.gates
        ]
        if self.reason:
            lines.append(f"  forced because: {self.reason}")
        return "\n".join(lines)


def _decision_tags(decision: PromotionDecision) -> dict[str, str]:
    """The tags recording a decision on the challenger version."""
    tags = {
        DECISION_TAG: decision.decision,
        GATES_TAG: json.dumps([asdict(g) for g in decision.gates]),
        AT_TAG: decision.at,
    }
    if decision.previous_champion:
        tags[PREVIOUS_CHAMPION_TAG] = decision.previous_champion
    if decision.reason:
        tags[REASON_TAG] = decision.reason
    return tags


def _record(client: MlflowClient, decision: PromotionDecision, settings: TrackingSettings) -> None:
    """Tag the version with the decision, then move ``champion`` if it was promoted and seal
    it (the service loads only the champion the seal names, with the files it hashed)."""
    for key, value in _decision_tags(decision).items():
        client.set_model_version_tag(decision.name, decision.version, key, value)
    if not decision.promoted:
        return
    try:
        client.set_registered_model_alias(decision.name, CHAMPION, decision.version)
        seal_champion(decision.name, decision.version, settings)
    except BaseException:
        with _sigint_ignored():
            client.set_model_version_tag(decision.name, decision.version, DECISION_TAG, "failed")
        raise


def _resolve_version(
    client: MlflowClient, name: str, version: str | None, settings: TrackingSettings
) -> str:
    """The version to consider: ``version`` or the one aliased ``challenger``."""
    if version is not None:
        return str(client.get_model_version(name, str(version)).version)
    challenger = get_alias(name, CHALLENGER, settings)
    if challenger is None:
        raise LookupError(f"{name} has no {CHALLENGER}: train it first")
    return str(challenger.version)


def promote(
    name: str,
    *,
    challenger_metrics: dict[str, float],
    champion_metrics: dict[str, float] | None,
    fairness_result: dict | None,
    policy: PromotionPolicy,
    settings: TrackingSettings,
    force: bool = False,
    reason: str | None = None,
    version: str | None = None,
) -> PromotionDecision:
    """Move ``champion`` to the challenger if every gate passes, recording why either way.

    Parameters
    ----------
    name : str
        The registered model.
    challenger_metrics, champion_metrics : dict of str to float
        ``auc`` and ``ece`` of the challenger and of the champion on the same latest data;
        ``champion_metrics`` is None when there is no champion yet.
    fairness_result : dict or None
        The challenger's fairness audit result (see :func:`fairness_gate`).
    policy : PromotionPolicy
        The tolerances.
    settings : TrackingSettings
        The store.
    force : bool, optional
        Promote although a gate failed; needs ``reason``.
    reason : str, optional
        Why the analyst forces the promotion; recorded on the version.
    version : str, optional
        The version to consider; defaults to the one aliased ``challenger``.

    Returns
    -------
    PromotionDecision
        The decision, which is also tagged on the version.

    Raises
    ------
    ValueError
        If ``force`` has no reason, the version's registration never completed, or there
        is a champion but no ``champion_metrics``.
    LookupError
        If no version is given and the model has no challenger.
    """
    reason = (reason or "").strip() or None
    if force and reason is None:
        raise ValueError("--force needs a reason: give --reason '<why the gates are overridden>'")
    client = settings.client()
    number = _resolve_version(client, name, version, settings)
    if not is_complete(client.get_model_version(name, number), settings):
        raise ValueError(f"version {number} of {name} never finished registering; retrain")
    champion = get_alias(name, CHAMPION, settings)
    if champion is not None and champion_metrics is None:
        raise ValueError(
            f"{name} has a champion (v{champion.version}): give its metrics on the same data"
        )
    gates = performance_gates(challenger_metrics, champion_metrics, policy)
    gates.append(fairness_gate(fairness_result, policy, model=name))
    passed = all(g.passed for g in gates)
    decision = PromotionDecision(
        promoted=passed or force,
        gates=gates,
        version=number,
        previous_champion=None if champion is None else str(champion.version),
        name=name,
        forced=force and not passed,
        reason=reason,
    )
    if decision.forced:
        _log.warning("forcing %s v%s to %s: %s", name, number, CHAMPION, reason)
    _record(client, decision, settings)
    return decision
