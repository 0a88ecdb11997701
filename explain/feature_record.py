"""Check a feature record sent by another system before it is scored (``/prompt_from_record``).

A missing key or a JSON null means "not recorded": the value becomes NaN and the prompt lists
it among the missing records. Everything else that is wrong is collected, so the sender sees
every problem at once, and raised together as :class:`FeatureRecordError`.

Ranges by unit (the synthetic partnership's feature table lies well inside them): a rate is a
share from 0 to 1; a flag is 0 or 1; counts are whole numbers of 0 or more; days and months
are 0 or more; years (an age) 0 to 25; points (a change in percentage points) -100 to 100.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from numbers import Real

import numpy as np

from explain.reasons import PROTECTED
from features.registry import FeatureSpec, Registry

RANGES = {
    "rate": (0.0, 1.0),
    "flag": (0.0, 1.0),
    "count": (0.0, math.inf),
    "days": (0.0, math.inf),
    "months": (0.0, math.inf),
    "years": (0.0, 25.0),
    "points": (-100.0, 100.0),
}
"""Allowed values (inclusive) of each unit."""

RULES = {
    "rate": "a rate is a share from 0 to 1",
    "flag": "a flag is 0 or 1",
    "count": "a count is a whole number of 0 or more",
    "days": "days are 0 or more",
    "months": "months are 0 or more",
    "years": "an age in years is from 0 to 25",
    "points": "a change in percentage points is from -100 to 100",
}
"""Each unit's rule, as a problem states it."""

HINTS = {
    "rate": "send a share between 0 and 1 (0.71 for 71%), or null when not recorded",
    "flag": "send 1 for yes or 0 for no, or null when not recorded",
    "count": "send a whole number of 0 or more, or null when not recorded",
    "days": "send a number of days of 0 or more, or null when not recorded",
    "months": "send a number of months of 0 or more, or null when not recorded",
    "years": "send an age in years between 0 and 25, or null when not recorded",
    "points": "send a change in percentage points between -100 and 100, or null when not recorded",
}


class FeatureRecordError(ValueError):
    """A feature record with problems; ``problems`` lists each as field, problem and hint."""

    def __init__(self, problems: list[dict[str, str]]):
        self.problems = problems
        super().__init__(problems)

    def __str__(self) -> str:
        lines = [f"{p['field']!r}: {p['problem']} ({p['hint']})" for p in self.problems]
        count = "1 problem" if len(lines) == 1 else f"{len(lines)} problems"
        return f"the feature record has {count}: " + "; ".join(lines)


def validate_feature_record(
    record: Mapping[str, object], features: list[str], registry: Registry
) -> np.ndarray:
    """Check a feature record and return its values in model order.

    Parameters
    ----------
    record : mapping of str to object
        Feature name to value, as decoded from JSON. Missing keys and None are "not recorded".
    features : list of str
        The features the model reads, in its order. To check one record for several models,
        pass the union of their features and take each model's columns from the result.
    registry : Registry
        The feature registry (units and names).

    Returns
    -------
    np.ndarray
        Float values, one per feature, NaN where not recorded.

    Raises
    ------
    FeatureRecordError
        Listing every unknown or protected field and every bad value.
    """
    if not isinstance(record, Mapping):
        raise FeatureRecordError(
            [
                {
                    "field": "(record)",
                    "problem": f"is a {type(record).__name__}, not an object of feature values",
                    "hint": 'send a JSON object such as {"attendance_12m": 0.93}',
                }
            ]
        )
    position = {name: i for i, name in enumerate(features)}
    values = np.full(len(features), np.nan)
    problems: list[dict[str, str]] = []
    for key, value in record.items():
        name = str(key)
        if name.lower() in PROTECTED:
            problems.append(
                _problem(
                    name,
                    "is a protected characteristic, which Lantern never uses as a model input",
                    "remove it from the record: protected characteristics are kept for the "
                    "fairness audit only",
                )
            )
        elif name not in position:
            problems.append(_unknown(name, features, registry))
        elif value is not None:
            problem = _value_problem(name, value, registry[name])
            if problem:
                problems.append(problem)
            else:
                values[position[name]] = float(value)
    if problems:
        raise FeatureRecordError(problems)
    return values


def _problem(field: str, problem: str, hint: str) -> dict[str, str]:
    return {"field": field, "problem": problem, "hint": hint}


def _unknown(name: str, features: list[str], registry: Registry) -> dict[str, str]:
    if name in registry:
        return _problem(
            name,
            "is a feature this model does not read",
            "remove it, or send only the features listed in the model card",
        )
    close = difflib.get_close_matches(name, features, n=1)
    hint = (
        f"did you mean {close[0]!r}?"
        if close
        else "check the name against the features listed in the model card"
    )
    return _problem(name, "is not a feature Lantern knows", hint)


def _value_problem(name: str, value: object, spec: FeatureSpec) -> dict[str, str] | None:
    hint = HINTS[spec.unit]
    if isinstance(value, bool | np.bool_):
        return _problem(name, f"is {str(value).lower()}, but a number is expected", hint)
    if not isinstance(value, Real):
        shown = repr(value) if isinstance(value, str) else f"a {type(value).__name__}"
        return _problem(name, f"is {shown}, not a number", hint)
    try:
        number = float(value)
    except OverflowError:  # a JSON integer too large for a float
        return _problem(name, "is a number too large to be a feature value", hint)
    if not math.isfinite(number):
        return _problem(name, f"is {number}, not a finite number", hint)
    low, high = RANGES[spec.unit]
    whole = spec.unit != "count" or number.is_integer()
    in_range = low <= number <= high and (spec.unit != "flag" or number in (0.0, 1.0))
    if in_range and whole:
        return None
    if spec.unit == "rate" and 1 < number <= 100:
        hint = f"it looks like a percentage: send {number / 100:g} for {number:g}%"
    return _problem(name, f"is {number:g}, but {RULES[spec.unit]}", hint)
