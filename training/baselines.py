"""The baselines Lantern must beat: today's weighted checklist, age alone, and a plain
logistic regression.

Local authorities already rank children with additive checklists: the Risk of NEET Indicator
(RONI) and the exploitation and serious-violence risk matrices add a point for each indicator
present (two for the few they treat as most telling) and review the highest totals.
:class:`IndicatorCountRule` is that practice in code, built from Lantern's own features, so a
model is compared with what practitioners would otherwise use, not with chance. A NEET
checklist is used on the year groups it is meant for, so the exclusion/NEET checklist has an
age item. :class:`AgeRate` scores a child by the rate of the outcome at their age: what age
alone knows, which a model of the records must beat before its reasons mean anything.
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

AGE_ITEMS = {
    "exclusion_neet": {
        "aged_16_or_over": Indicator(
            "age_years", 16.0, 2.0, "Aged 16 or 17: old enough to be not in education or work"
        ),
    },
}
"""Each outcome's age items: a RONI-style checklist is applied to the ages it is meant for,
and counts the age at which NEET becomes possible (the serious-violence matrices have none)."""

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
    most telling (:data:`DOUBLE_WEIGHT`) and adds its age items (:data:`AGE_ITEMS`). The
    features are checked against the registry.

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
    indicators.update(AGE_ITEMS.get(outcome, {}))
    return IndicatorCountRule(indicators, registry=default_registry())


class AgeRate:
    """Scores a child by the outcome's rate among children of the same whole year of age.

    Parameters
    ----------
    prior : float, default 20
        Each year's rate is shrunk towards the overall rate as if ``prior`` children at the
        overall rate were added to it, so a year with few children does not get an extreme
        rate; a year never seen in training gets the overall rate.
    """

    def __init__(self, prior: float = 20.0):
        if prior < 0:
            raise ValueError(f"prior must be at least 0, got {prior}")
        self.prior = prior
        self.rates: dict[int, float] = {}
        self.overall: float | None = None

    def fit(self, ages, y) -> AgeRate:
        """Learn each year's rate from training rows (``ages`` in years, ``y`` 0/1)."""
        frame = pd.DataFrame({"age": np.floor(np.asarray(ages, dtype=float)), "y": y}).dropna()
        if frame.empty:
            raise ValueError("no training rows with a known age to learn rates from")
        self.overall = float(frame["y"].mean())
        counts = frame.groupby("age")["y"].agg(["sum", "size"])
        shrunk = (counts["sum"] + self.prior * self.overall) / (counts["size"] + self.prior)
        self.rates = {int(age): float(rate) for age, rate in shrunk.items()}
        return self

    def score(self, ages) -> np.ndarray:
        """Each child's rate for their age (the overall rate for an unseen or unknown age)."""
        if self.overall is None:
            raise ValueError("AgeRate is not fitted: call fit(ages, y) first")
        years = np.floor(np.asarray(ages, dtype=float))
        return np.array(
            [
                self.rates.get(int(a), self.overall) if np.isfinite(a) else self.overall
                for a in years
            ]
        )


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
