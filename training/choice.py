"""Whether a trained model is registered: it must rank the validation data about as well as
its best baseline, and it must not be a constant.

On a small table a boosted model can be worse than a logistic regression, or (with leaves too
large for the rows) a constant that scores everyone alike; registering it as ``challenger``
without a word lets it reach a practitioner. The choice is made on the validation data, never
on the test data the card reports, so the test figures stay an honest estimate.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from training.config import RegistrationSettings
from training.evaluation import BASELINE_NAMES
from training.metrics import point_metrics


@dataclass(frozen=True)
class RegistrationChoice:
    """The decision and its reasons.

    Attributes
    ----------
    register : bool
        Whether the model is registered.
    worse : bool
        Whether the model ranked the validation data worse than its best baseline by more
        than the margin, or is a constant.
    metric : str
        The metric compared (``auc_within_age`` where the rows have ages, else ``auc``).
    model : float
        The model's value on the validation data.
    baseline : str or None
        The best baseline on the validation data.
    baseline_value : float
        Its value.
    margin : float
        How far below the baseline the model may be.
    reason : str
        The decision in a sentence, for the command's output and the card.
    """

    register: bool
    worse: bool
    metric: str
    model: float
    baseline: str | None
    baseline_value: float
    margin: float
    reason: str

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in asdict(self).items()
        }


def choose(
    y,
    model_scores,
    baselines: dict[str, np.ndarray],
    settings: RegistrationSettings,
    *,
    ages=None,
    constant: bool = False,
    where: str = "on the validation data",
) -> RegistrationChoice:
    """Compare the model with each baseline on the validation rows and decide.

    Parameters
    ----------
    y : array-like of {0, 1}
        The validation rows' outcomes.
    model_scores : array-like
        The model's scores on them.
    baselines : dict of str to array-like
        Each baseline's scores on the same rows.
    settings : RegistrationSettings
        The margin and what to do when the model is worse.
    ages : array-like, optional
        Ages of the rows: the headline is then AUC within each year of age.
    constant : bool, default False
        The model has no split at all (:func:`training.model.has_splits`): it is refused
        whatever the setting.
    where : str
        Where the scores were measured, for the reason.
    """
    metric = "auc" if ages is None else "auc_within_age"

    def value(scores) -> float:
        return point_metrics(y, scores, ages=ages)[metric]

    ours = value(model_scores)
    measured = {name: value(s) for name, s in baselines.items()}
    measured = {k: v for k, v in measured.items() if math.isfinite(v)}
    best = max(measured, key=measured.get) if measured else None
    theirs = measured[best] if best else math.nan
    label = "AUC within age" if metric == "auc_within_age" else "AUC"
    margin = settings.margin

    def decided(register: bool, worse: bool, reason: str) -> RegistrationChoice:
        return RegistrationChoice(register, worse, metric, ours, best, theirs, margin, reason)

    if constant:
        return decided(
            False,
            True,
            "NOT registered: every tree is a single leaf, so the model scores everyone alike "
            "(too few rows for the tree settings, or no feature that separates the outcome)",
        )
    if best is None or not math.isfinite(ours):
        return decided(
            True,
            False,
            f"registered: {where} the baselines could not be ranked ({label} undefined)",
        )
    name = BASELINE_NAMES.get(best, best)
    compared = f"{where} its {label} is {ours:.3f} against {theirs:.3f} for {name}"
    if ours >= theirs - margin:
        return decided(
            True, False, f"registered: {compared} (within the {margin:.2f} allowed, or better)"
        )
    below = f"{compared}, more than the {margin:.2f} allowed below it"
    if settings.when_worse == "register":
        return decided(
            True, True, f"registered although worse: {below} (registration.when_worse: register)"
        )
    return decided(
        False,
        True,
        f"NOT registered: {below}. The simpler model ranks these children better: use it, or "
        "set registration.when_worse: register in the training config to register this one "
        "anyway",
    )
