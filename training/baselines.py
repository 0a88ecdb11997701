"""The baselines Lantern must beat: today's weighted checklist, and a plain logistic regression.

Local authorities already rank children with additive checklists: the Risk of NEET Indicator
(RONI) and the exploitation and serious-violence risk matrices add a point for each indicator
present (two for the few they treat as most telling) and review the highest totals.
:class:`IndicatorCountRule` is that practice in code, built from Lantern's own features, so a
model is compared with what practitioners would otherwise use, not with chance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


@dataclass(frozen=True)
class Indicator:
    """One checklist item: ``weight`` counts when ``x[feature] >= threshold``.

    Attributes
    ----------
    feature : str
        A column of the feature table (a name in the feature registry).
    threshold : float
        The item is met when the value is at least this; a missing value (NaN) is not met.
    weight : float
        What the item adds to the score when met.
    description : str
        The item in plain English, as a checklist would print it.
    """

    feature: str
    threshold: float
    weight: float
    description: str

    def __post_init__(self):
        if not (math.isfinite(self.threshold) and math.isfinite(self.weight)):
            raise ValueError(f"indicator on {self.feature!r} needs a finite threshold and weight")


class IndicatorCountRule:
    """A weighted count of the checklist items a child meets.

    Parameters
    ----------
    indicators : mapping of str to Indicator
        The items, by name.
    registry : mapping, optional
        Feature names known to Lantern (e.g. :func:`features.registry.default_registry`); when
        given, every item's feature must be one of them.

    Raises
    ------
    KeyError
        If ``registry`` is given and an item's feature is not in it.
    """

    def __init__(self, indicators: Mapping[str, Indicator], registry: Mapping | None = None):
        if not indicators:
            raise ValueError("a rule needs at least one indicator")
        self.indicators: dict[str, Indicator] = dict(indicators)
        if registry is not None:
            for name, item in self.indicators.items():
                if item.feature not in registry:
                    raise _unknown_feature(name, item.feature, "the feature registry")

    def __repr__(self) -> str:
        return f"IndicatorCountRule({len(self.indicators)} indicators, max {self.max_score:g})"

    @property
    def max_score(self) -> float:
        """The score of a child meeting every item (with positive weight)."""
        return float(sum(max(item.weight, 0.0) for item in self.indicators.values()))

    def met(self, X: pd.DataFrame) -> pd.DataFrame:
        """Which items each row meets (booleans, one column per item; NaN is not met).

        Raises
        ------
        KeyError
            If an item's feature is not a column of ``X``.
        """
        columns = {}
        for name, item in self.indicators.items():
            if item.feature not in X.columns:
                raise _unknown_feature(name, item.feature, "the frame's columns")
            values = X[item.feature].to_numpy(dtype=float, na_value=np.nan)
            columns[name] = values >= item.threshold  # NaN compares False
        return pd.DataFrame(columns, index=X.index)

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """The weighted count of items met by each row, as floats."""
        weights = np.array([item.weight for item in self.indicators.values()], dtype=float)
        return self.met(X).to_numpy(dtype=float) @ weights

    def table(self) -> pd.DataFrame:
        """The checklist as a table (name, feature, threshold, weight, description)."""
        rows = [{"name": name, **asdict(item)} for name, item in self.indicators.items()]
        return pd.DataFrame(rows)


def _unknown_feature(name: str, feature: str, where: str) -> KeyError:
    """The error for an item whose feature is missing, pointing to the registry."""
    return KeyError(
        f"indicator {name!r} uses feature {feature!r}, which is not in {where}; "
        "`lantern registry` lists Lantern's features"
    )


def _item(feature: str, description: str) -> tuple[str, Indicator]:
    """A checklist item named after its feature, met at 1 or more, weighing 1."""
    return feature, Indicator(feature, 1.0, 1.0, description)


_CHECKLIST = dict(
    [
        _item("persistently_absent_12m", "Persistently absent from school in the last year"),
        _item("suspensions_12m", "Suspended from school at least once in the last year"),
        _item("permanently_excluded_ever", "Has been permanently excluded from a school"),
        _item("alternative_provision", "Placed in alternative provision"),
        _item("child_in_need_open", "Open to social care as a child in need"),
        _item("protection_plan_open", "On a child protection plan"),
        _item("looked_after_open", "Looked after by the local authority now"),
        _item("looked_after_ever", "Has been looked after by the local authority"),
        _item("missing_episodes_12m", "Reported missing at least once in the last year"),
        _item("suspect_12m", "Recorded as a suspect by the police in the last year"),
        _item("victim_of_crime_12m", "Recorded as a victim of crime in the last year"),
        _item("serious_violence_ever", "Has been harmed by, or suspected of, serious violence"),
        _item(
            "ed_assault_12m", "Went to an emergency department after an assault in the last year"
        ),
        _item("caution_or_conviction_ever", "Has had a caution or a court outcome"),
        _item("neet_now", "Not in education, employment or training now"),
        _item("domestic_abuse_recorded", "Domestic abuse recorded by social care"),
        _item("harm_outside_home_recorded", "Harm outside the home (exploitation) recorded"),
        _item("sen_support", "Receives SEN support"),
        _item("ehcp", "Has an education, health and care plan"),
        _item("fsm_eligible", "Eligible for free school meals"),
    ]
)
"""Every item weighs 1 and is met at 1 or more (a yes for flags, one or more for counts)."""

DOUBLE_WEIGHT = {
    "serious_violence": (
        "permanently_excluded_ever",
        "looked_after_ever",
        "serious_violence_ever",
        "harm_outside_home_recorded",
    ),
    "exclusion_neet": (
        "permanently_excluded_ever",
        "looked_after_ever",
        "neet_now",
        "persistently_absent_12m",
    ),
}
"""The items each outcome's checklist counts twice."""


def default_rule(outcome: str) -> IndicatorCountRule:
    """The checklist for ``"serious_violence"`` or ``"exclusion_neet"``.

    Both count the same 20 items; each counts twice the few its kind of checklist treats as
    most telling (:data:`DOUBLE_WEIGHT`). The features are checked against the registry.

    Raises
    ------
    KeyError
        For another outcome.
    """
    if outcome not in DOUBLE_WEIGHT:
        raise KeyError(f"no checklist for outcome {outcome!r}; use one of {sorted(DOUBLE_WEIGHT)}")
    from features.registry import default_registry

    doubled = set(DOUBLE_WEIGHT[outcome])
    indicators = {
        name: Indicator(
            item.feature, item.threshold, 2.0 if name in doubled else 1.0, item.description
        )
        for name, item in _CHECKLIST.items()
    }
    return IndicatorCountRule(indicators, registry=default_registry())


def logistic_baseline(seed: int = 0) -> Pipeline:
    """Median imputation with missing-value flags, standardising, then logistic regression.

    Parameters
    ----------
    seed : int, default 0
        ``random_state`` of the logistic regression.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Unfitted; takes a float DataFrame in which NaN marks a missing value.
    """
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", add_indicator=True)),
            ("scale", StandardScaler()),
            ("model", LogisticRegression(max_iter=2000, C=1.0, random_state=seed)),
        ]
    )
