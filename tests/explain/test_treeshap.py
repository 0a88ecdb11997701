"""FastTreeShap against LightGBM's own TreeSHAP (``pred_contrib``) on real, random models.

Models are small and trained on random data with NaNs, zeros, a constant column and a column
no tree splits on; they cover every missing-value rule LightGBM has (None, Zero, NaN) and rows
that sit exactly on thresholds and at LightGBM's zero threshold.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explain.treeshap import ZERO_THRESHOLD, FastTreeShap, UnsupportedModelError
from training.config import load_training_settings
from training.model import fit_booster

TOLERANCE = 1e-12
N_FEATURES = 7
CONSTANT, UNUSED = 5, 6
"""Columns no tree can split on: one constant, one entirely missing."""


def random_data(seed: int, rows: int, nan_share: float, zero_share: float):
    """Features with NaNs and exact zeros, and a label that depends on some of them."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, N_FEATURES))
    X[:, 3] = rng.integers(0, 4, rows)  # a count, like most of Lantern's features
    X[rng.random(X.shape) < zero_share] = 0.0
    X[rng.random(X.shape) < nan_share] = np.nan
    X[:, CONSTANT] = 1.0
    X[:, UNUSED] = np.nan
    signal = np.nan_to_num(X[:, 0] - X[:, 1] + 0.5 * X[:, 3], nan=1.0) + np.isnan(X[:, 2])
    y = (rng.random(rows) < 1 / (1 + np.exp(-signal))).astype(int)
    return X, y


def train(X, y, rounds: int = 30, **params) -> lgb.Booster:
    base = {
        "objective": "binary",
        "verbosity": -1,
        "num_threads": 1,
        "min_child_samples": 5,
        "seed": 1,
        "deterministic": True,
    }
    return lgb.train({**base, **params}, lgb.Dataset(X, y), num_boost_round=rounds)


def missing_types(booster: lgb.Booster) -> set[str]:
    found = set()

    def walk(node):
        if "split_index" in node:
            found.add(node["missing_type"])
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    return found


def edge_rows(booster: lgb.Booster, n_features: int) -> np.ndarray:
    """Rows on and next to every threshold, at and around zero, NaN and infinities."""
    values = [0.0, -0.0, 1e-36, -1e-36, np.nan, np.inf, -np.inf]
    for z in (ZERO_THRESHOLD, -ZERO_THRESHOLD):
        values += [z, np.nextafter(z, np.inf), np.nextafter(z, -np.inf)]

    def walk(node):
        if "split_index" in node:
            t = node["threshold"]
            values.extend([t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf)])
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    values = np.array(values)
    rng = np.random.default_rng(0)
    return rng.choice(values, size=(4 * len(values), n_features))


def assert_matches_lightgbm(explainer: FastTreeShap, booster: lgb.Booster, X: np.ndarray):
    ours = explainer.contributions(X)
    theirs = booster.predict(X, pred_contrib=True)
    assert ours.shape == theirs.shape == (len(X), X.shape[1] + 1)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=TOLERANCE)
    raw = booster.predict(X, raw_score=True)
    np.testing.assert_allclose(ours.sum(axis=1), raw, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(explainer.raw_score(X), raw, rtol=0, atol=TOLERANCE)


MISSING = {
    "nan": ({}, 0.15),  # NaNs in training: missing_type NaN
    "none": ({}, 0.0),  # no NaNs in training: missing_type None, NaN read as 0
    "zero": ({"zero_as_missing": True}, 0.15),  # zeros and NaNs are missing
    "off": ({"use_missing": False}, 0.15),  # missing handling off: None
}


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    shape=st.sampled_from([(4, 2), (3, -1), (4, -1), (6, 3), (8, -1)]),
    missing=st.sampled_from(sorted(MISSING)),
    zero_share=st.sampled_from([0.0, 0.3]),
    bagging=st.booleans(),
)
def test_equals_pred_contrib_on_random_models(seed, shape, missing, zero_share, bagging):
    num_leaves, max_depth = shape
    params, nan_share = MISSING[missing]
    X, y = random_data(seed, 400, nan_share, zero_share)
    extra = {"bagging_fraction": 0.7, "bagging_freq": 1, "feature_fraction": 0.6} if bagging else {}
    booster = train(X, y, num_leaves=num_leaves, max_depth=max_depth, **params, **extra)
    explainer = FastTreeShap.from_booster(booster)
    assert explainer.method == "table"
    X_new, _ = random_data(seed + 1, 300, 0.15, zero_share)
    assert_matches_lightgbm(explainer, booster, np.vstack([X_new, edge_rows(booster, N_FEATURES)]))


@pytest.mark.parametrize("missing", sorted(MISSING))
def test_every_missing_value_rule_on_edge_rows(missing):
    params, nan_share = MISSING[missing]
    X, y = random_data(3, 600, nan_share, zero_share=0.3)
    booster = train(X, y, rounds=40, num_leaves=4, max_depth=2, **params)
    expected = {"nan": {"NaN"}, "none": {"None"}, "zero": {"Zero"}, "off": {"None"}}[missing]
    assert missing_types(booster) == expected
    explainer = FastTreeShap.from_booster(booster)
    rows = edge_rows(booster, N_FEATURES)
    assert_matches_lightgbm(explainer, booster, rows)


def test_a_split_of_numbers_from_missing_values_compares_with_infinity():
    """LightGBM dumps such a threshold as 1e300 but compares with +inf: 1e308 goes left."""
    rng = np.random.default_rng(12)
    X = rng.normal(size=(500, 2))
    X[rng.random(500) < 0.4, 0] = np.nan
    y = np.isnan(X[:, 0]).astype(int)
    booster = train(X, y, rounds=3, num_leaves=2)
    assert booster.dump_model()["tree_info"][0]["tree_structure"]["threshold"] == 1e300
    huge = np.array([1e300, np.nextafter(1e300, np.inf), 1e308, np.inf, -np.inf, np.nan, 0.0])
    rows = np.column_stack([huge, np.zeros(len(huge))])
    assert_matches_lightgbm(FastTreeShap.from_booster(booster), booster, rows)


def test_features_no_tree_uses_get_zero():
    X, y = random_data(5, 800, 0.1, 0.2)
    booster = train(X, y, num_leaves=4, max_depth=2)
    contributions = FastTreeShap.from_booster(booster).contributions(X)
    assert not contributions[:, [CONSTANT, UNUSED]].any()
    assert contributions[:, 0].any()


def test_lantern_settings_and_early_stopping():
    """A booster fitted as Lantern fits its models (training.yaml), fewer rounds."""
    lightgbm = load_training_settings().lightgbm.model_copy(
        update={"n_estimators": 150, "early_stopping_rounds": 10, "min_child_samples": 20}
    )
    X, y = random_data(11, 3000, 0.2, 0.3)
    features = [f"f{i}" for i in range(N_FEATURES)]
    booster = fit_booster(
        X[:2000], y[:2000], X[2000:], y[2000:], lightgbm, features=features, seed=7
    )
    explainer = FastTreeShap.from_booster(booster)
    assert explainer.method == "table"
    assert explainer.largest_tree == 3
    assert_matches_lightgbm(explainer, booster, X)


@pytest.mark.parametrize("num_leaves", [4, 31])
def test_num_iteration_as_in_predict(num_leaves):
    X, y = random_data(2, 500, 0.1, 0.1)
    booster = train(X, y, rounds=30, num_leaves=num_leaves)
    explainer = FastTreeShap.from_booster(booster, num_iteration=7)
    assert explainer.n_trees == 7
    expected = booster.predict(X, pred_contrib=True, num_iteration=7)
    assert np.abs(expected - booster.predict(X, pred_contrib=True)).max() > 0.01
    np.testing.assert_allclose(explainer.contributions(X), expected, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(explainer.raw_score(X), expected.sum(axis=1), rtol=0, atol=TOLERANCE)


def test_trees_without_splits():
    X, y = random_data(4, 400, 0.1, 0.1)
    # leaves too large to split: a single-leaf tree (the average), then split trees after it
    stump = train(X, y, rounds=3, min_child_samples=10_000)
    assert stump.num_trees() == 1
    explainer = FastTreeShap.from_booster(stump)
    assert explainer.largest_tree == 0
    assert_matches_lightgbm(explainer, stump, X)
    mixed = lgb.train(
        {"objective": "binary", "verbosity": -1, "num_leaves": 4, "min_child_samples": 5},
        lgb.Dataset(X, y),
        num_boost_round=5,
        init_model=stump,
    )
    explainer = FastTreeShap.from_booster(mixed)
    assert (explainer.n_trees, explainer.largest_tree) == (6, 3)
    assert_matches_lightgbm(explainer, mixed, X)


def test_larger_trees_are_delegated_to_lightgbm():
    X, y = random_data(6, 600, 0.1, 0.1)
    booster = train(X, y, rounds=10, num_leaves=31, min_child_samples=3)
    assert FastTreeShap.from_booster(booster).method == "pred_contrib"
    assert_matches_lightgbm(FastTreeShap.from_booster(booster), booster, X)
    with pytest.raises(ValueError, match="max_table_nodes=30 is more than 12"):
        FastTreeShap.from_booster(booster, max_table_nodes=30)

    nine_leaves = train(X, y, rounds=10, num_leaves=9, min_child_samples=3)
    assert FastTreeShap.from_booster(nine_leaves).method == "pred_contrib"
    wider = FastTreeShap.from_booster(nine_leaves, max_table_nodes=8)
    assert (wider.method, wider.largest_tree) == ("table", 8)
    assert_matches_lightgbm(wider, nine_leaves, X)


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_threads_and_layouts_agree(n_threads):
    X, y = random_data(8, 1500, 0.1, 0.1)
    booster = train(X, y, num_leaves=4, max_depth=2)
    explainer = FastTreeShap.from_booster(booster)
    for rows in (X, np.asfortranarray(X), X.astype(np.float32)):
        got = explainer.contributions(rows, n_threads=n_threads)
        assert got.flags.c_contiguous and got.dtype == np.float64
        expected = booster.predict(rows, pred_contrib=True)
        np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)
    assert explainer.contributions(X[:0]).shape == (0, N_FEATURES + 1)
    assert explainer.raw_score(X[:1], n_threads=n_threads).shape == (1,)


def test_wrong_number_of_columns_is_named():
    X, y = random_data(1, 300, 0.1, 0.1)
    explainer = FastTreeShap.from_booster(train(X, y, rounds=3, num_leaves=4))
    with pytest.raises(ValueError, match=r"X has shape \(300, 6\); the model reads 7 feature"):
        explainer.contributions(X[:, :6])
    with pytest.raises(ValueError, match="pass a 2-D array of shape"):
        explainer.raw_score(X[0])


def test_unsupported_models_say_to_use_pred_contrib():
    X, y = random_data(9, 600, 0.0, 0.0)
    X_cat = X.copy()
    X_cat[:, 3] = np.random.default_rng(0).integers(0, 6, len(X))
    y_cat = (X_cat[:, 3] % 2 == 0).astype(int)
    categorical = lgb.train(
        {"objective": "binary", "verbosity": -1, "min_data_per_group": 5, "cat_smooth": 1},
        lgb.Dataset(X_cat, y_cat, categorical_feature=[3]),
        num_boost_round=3,
    )
    with pytest.raises(UnsupportedModelError, match="categorical splits.*pred_contrib=True"):
        FastTreeShap.from_booster(categorical)

    multiclass = lgb.train(
        {"objective": "multiclass", "num_class": 3, "verbosity": -1},
        lgb.Dataset(X, np.arange(len(X)) % 3),
        num_boost_round=2,
    )
    with pytest.raises(UnsupportedModelError, match="3 classes.*pred_contrib=True"):
        FastTreeShap.from_booster(multiclass)

    linear = train(X, y, rounds=2, num_leaves=4, linear_tree=True)
    with pytest.raises(UnsupportedModelError, match="linear tree.*retrain without linear_tree"):
        FastTreeShap.from_booster(linear)

    forest = train(X, y, rounds=3, boosting="rf", bagging_fraction=0.5, bagging_freq=1)
    with pytest.raises(UnsupportedModelError, match="averages its trees.*pred_contrib=True"):
        FastTreeShap.from_booster(forest)
