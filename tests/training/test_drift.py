"""Drift between two periods: the population stability index and base-rate change."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from training.drift import base_rate_change, feature_drift, psi, reading

RNG = np.random.default_rng(20)
REFERENCE = RNG.normal(size=20_000)


def test_identical_samples_do_not_drift():
    assert psi(REFERENCE, REFERENCE.copy()) == pytest.approx(0, abs=1e-12)
    fresh = np.random.default_rng(21).normal(size=20_000)  # same population, new sample
    assert psi(REFERENCE, fresh) < 0.01
    assert reading(psi(REFERENCE, fresh)) == "stable"


def test_psi_grows_with_a_mean_shift():
    values = [psi(REFERENCE, REFERENCE + shift) for shift in (0.0, 0.1, 0.25, 0.5, 1.0)]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert [reading(v) for v in values] == [
        "stable",
        "stable",
        "stable",
        "moderate shift",
        "major shift",
    ]


def test_psi_matches_a_hand_computation():
    # ten distinct values, each its own decile bin; the current period piles onto two of them
    reference = np.repeat(np.arange(10.0), 10)
    current = np.repeat([0.0, 9.0], 50)
    floor = 1e-4  # an empty bin counts as this share
    expected = 2 * (0.5 - 0.1) * math.log(0.5 / 0.1) + 8 * (floor - 0.1) * math.log(floor / 0.1)
    assert psi(reference, current) == pytest.approx(expected, rel=1e-12)


def test_missing_values_are_their_own_bin():
    more_missing = [REFERENCE.copy() for _ in range(3)]
    for values, share in zip(more_missing, (0.05, 0.2, 0.5), strict=True):
        values[: int(share * len(values))] = np.nan
    values = [psi(REFERENCE, current) for current in more_missing]
    assert 0 < values[0] < values[1] < values[2]
    assert reading(values[2]) == "major shift"
    # the same share missing in both periods is no drift
    assert psi(more_missing[1], more_missing[1][::-1]) == pytest.approx(0, abs=1e-12)


def test_readings_follow_the_conventional_bands():
    assert [reading(v) for v in (0.0, 0.099, 0.1, 0.249, 0.25, 3.0)] == [
        "stable",
        "stable",
        "moderate shift",
        "moderate shift",
        "major shift",
        "major shift",
    ]


def test_feature_drift_is_sorted_with_readings():
    before = pd.DataFrame({"same": REFERENCE, "shifted": REFERENCE, "a_bit": REFERENCE})
    after = pd.DataFrame({"same": REFERENCE, "shifted": REFERENCE + 1, "a_bit": REFERENCE + 0.5})
    drift = feature_drift(before, after, ["same", "shifted", "a_bit"])
    assert drift["feature"].tolist() == ["shifted", "a_bit", "same"]
    assert drift["reading"].tolist() == ["major shift", "moderate shift", "stable"]
    assert drift["psi"].is_monotonic_decreasing


def test_base_rate_change():
    change = base_rate_change(pd.Series([0, 0, 0, 1]), pd.Series([0, 1, 1, 1, 0, 0, 0, 1]))
    assert change == pytest.approx({"reference": 0.25, "current": 0.5, "change_points": 25.0})
    down = base_rate_change(pd.Series([1, 1, 0, 0, 0]), pd.Series([0, 0, 0, 0, 1]))
    assert down["change_points"] == pytest.approx(-20.0)
    assert base_rate_change(pd.Series([0, 1]), pd.Series([1, 0]))["change_points"] == 0
