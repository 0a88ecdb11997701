"""The synthetic partnership's ground truth is about exactly the outcome the pipeline labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
from feature_fixtures import SYNTH_CHILDREN as CHILDREN
from feature_fixtures import SYNTH_SEED as SEED

from features.build import build_features, build_snapshot
from features.contract import validate_tables
from features.pointintime import index_records
from features.registry import default_registry
from features.synth import SynthConfig, generate

AGE_ONLY = default_registry().select(["age_years"])
"""A registry of one feature: the audit columns give each child's SEND group."""

OUTCOMES = ("serious_violence", "exclusion_neet")
PROBABILITIES = (
    "p_true_serious_violence",
    "p_recorded_serious_violence",
    "p_true_permanent_exclusion",
    "p_recorded_permanent_exclusion",
    "p_neet",
    "p_true_exclusion_neet",
    "p_recorded_exclusion_neet",
)


def test_labels_built_from_the_extracts_are_the_recorded_outcomes_drawn(partnership):
    assert_labels_are_recorded_outcomes(partnership)


def test_labels_are_the_recorded_outcomes_when_the_police_under_record():
    """What the police miss and an ED sees is still the recorded outcome; what neither saw
    is not (the labels come from the ED's records alone for those children)."""
    under = generate(SynthConfig(children=2_000, seed=SEED, police_recording_rate=0.8))
    assert_labels_are_recorded_outcomes(under)


def assert_labels_are_recorded_outcomes(partnership) -> None:
    """Every anchor's labels, built from the extracts, equal the recorded outcomes drawn."""
    truth = partnership.ground_truth
    assert len(partnership.anchors) >= 2
    positives = dict.fromkeys(OUTCOMES, 0)
    for anchor in partnership.anchors:
        assert anchor.month == 9 and anchor.day == 1
        built = build_features(partnership.tables, [anchor])
        drawn = truth[truth["anchor_date"] == anchor]
        assert set(built["child_id"]) == set(drawn["child_id"]), f"cohorts differ on {anchor}"
        both = built.merge(drawn, on="child_id", validate="one_to_one")
        for outcome in OUTCOMES:
            labelled = both[f"label_{outcome}"]
            assert labelled.notna().all(), f"{outcome} on {anchor.date()} is not known"
            recorded = both[f"y_recorded_{outcome}"].astype(float)
            mismatched = both.loc[labelled != recorded, "child_id"].tolist()
            assert not mismatched, f"{outcome} on {anchor.date()}: labels differ for {mismatched}"
            positives[outcome] += int(labelled.sum())
    assert all(positives.values()), positives  # the comparison is not all zeros


def test_probabilities_are_probabilities(partnership):
    truth = partnership.ground_truth
    for column in PROBABILITIES:
        values = truth[column].to_numpy(float)
        assert np.isfinite(values).all(), column
        assert ((values >= 0) & (values <= 1)).all(), column
    assert truth[["child_id", "anchor_date"]].duplicated().sum() == 0


def test_recorded_equals_true_when_recording_is_unbiased(partnership):
    truth = partnership.ground_truth
    assert partnership.config.police_recording_bias == 1.0
    assert partnership.config.exclusion_bias_send == 1.0
    for true, recorded in [
        ("p_true_serious_violence", "p_recorded_serious_violence"),
        ("p_true_permanent_exclusion", "p_recorded_permanent_exclusion"),
        ("p_true_exclusion_neet", "p_recorded_exclusion_neet"),
        ("y_true_serious_violence", "y_recorded_serious_violence"),
        ("y_true_exclusion_neet", "y_recorded_exclusion_neet"),
    ]:
        np.testing.assert_array_equal(truth[recorded], truth[true], err_msg=recorded)


def _with_ethnicity(p) -> pd.DataFrame:
    return p.ground_truth.merge(
        p.tables["children"][["child_id", "ethnicity"]], on="child_id", validate="many_to_one"
    )


def test_police_recording_bias_raises_recorded_violence_for_black_children_only():
    biased = generate(SynthConfig(children=CHILDREN, seed=SEED, police_recording_bias=1.5))
    truth = _with_ethnicity(biased)
    black = truth["ethnicity"] == "Black"
    assert black.sum() > 0 and (~black).sum() > 0
    p_true = truth["p_true_serious_violence"].to_numpy()
    p_recorded = truth["p_recorded_serious_violence"].to_numpy()
    np.testing.assert_allclose(p_recorded[black], np.minimum(1.0, 1.5 * p_true[black]))
    np.testing.assert_array_equal(p_recorded[~black], p_true[~black])
    assert (p_recorded[black] > p_true[black]).all()
    # Exclusion recording is unbiased in this partnership.
    np.testing.assert_array_equal(
        truth["p_recorded_permanent_exclusion"], truth["p_true_permanent_exclusion"]
    )


def test_equal_under_recording_lowers_recorded_violence_alike_in_every_group():
    under = generate(SynthConfig(children=2_000, seed=SEED, police_recording_rate=0.8))
    truth = under.ground_truth
    ed = SynthConfig().mechanics().role["ed_given_victim"]
    p_true = truth["p_true_serious_violence"].to_numpy()
    # the police record 80%; an ED still sees the injury in the rest as often as any victim's
    np.testing.assert_allclose(
        truth["p_recorded_serious_violence"], p_true * (0.8 + 0.2 * ed), rtol=1e-12
    )
    y_true = truth["y_true_serious_violence"].to_numpy()
    y_recorded = truth["y_recorded_serious_violence"].to_numpy()
    assert not (y_recorded & ~y_true).any(), "under-recording never records what did not happen"
    missed = int((y_true & ~y_recorded).sum())
    assert 0 < missed < 0.2 * y_true.sum(), (missed, int(y_true.sum()))
    # injuries the police missed reach the ED alone: more assault attendances have no police
    # record than when the police record everything (some victims are only ever seen by an ED)
    full = generate(SynthConfig(children=2_000, seed=SEED))
    assert _ed_alone_share(under.tables) > _ed_alone_share(full.tables) + 0.05


def _ed_alone_share(tables) -> float:
    """The share of ED assault attendances with no police serious-violence record that day."""
    police, health = tables["police"], tables["health"]
    seen = police.loc[police["serious_violence"], ["child_id", "date"]].drop_duplicates()
    ed = health.loc[health["assault_related"], ["child_id", "date"]]
    joined = ed.merge(seen, on=["child_id", "date"], how="left", indicator=True)
    return float((joined["_merge"] == "left_only").mean())


def test_exclusion_bias_raises_recorded_exclusion_for_children_with_send_only():
    biased = generate(SynthConfig(children=CHILDREN, seed=SEED, exclusion_bias_send=2.0))
    records = index_records(biased.tables)
    truth = biased.ground_truth
    send = pd.concat(
        [
            build_snapshot(records, t, AGE_ONLY)[["child_id", "snapshot_date", "send"]]
            for t in biased.anchors
        ]
    ).rename(columns={"snapshot_date": "anchor_date"})
    truth = truth.merge(send, on=["child_id", "anchor_date"], validate="one_to_one")
    with_send = truth["send"].isin(["sen_support", "ehcp"]).to_numpy()
    assert with_send.sum() > 0 and (~with_send).sum() > 0
    p_true = truth["p_true_permanent_exclusion"].to_numpy()
    p_recorded = truth["p_recorded_permanent_exclusion"].to_numpy()
    np.testing.assert_allclose(p_recorded[with_send], np.minimum(1.0, 2.0 * p_true[with_send]))
    np.testing.assert_array_equal(p_recorded[~with_send], p_true[~with_send])
    np.testing.assert_array_equal(
        truth["p_recorded_serious_violence"], truth["p_true_serious_violence"]
    )


def test_the_same_seed_gives_the_same_partnership_and_another_seed_does_not(partnership):
    again = generate(SynthConfig(children=CHILDREN, seed=SEED))
    assert set(again.tables) == set(partnership.tables)
    for name, frame in partnership.tables.items():
        pd.testing.assert_frame_equal(again.tables[name], frame, obj=name)
    pd.testing.assert_frame_equal(again.ground_truth, partnership.ground_truth)
    pd.testing.assert_frame_equal(again.hidden, partnership.hidden)

    other = generate(SynthConfig(children=CHILDREN, seed=SEED + 1))
    assert not other.tables["police"].equals(partnership.tables["police"])
    assert not other.tables["children"].equals(partnership.tables["children"])
    assert not other.ground_truth.equals(partnership.ground_truth)


def test_generated_tables_keep_the_data_contract(partnership):
    problems = validate_tables(partnership.tables, today=partnership.config.end)
    assert problems == [], "\n".join(str(p) for p in problems[:10])


def test_another_seed_and_preset_also_keep_the_contract_and_the_labels_match():
    other = generate(SynthConfig(children=CHILDREN, seed=SEED + 2, ethnicity_preset="london"))
    assert validate_tables(other.tables, today=other.config.end) == []
    anchor = other.anchors[-1]
    built = build_features(other.tables, [anchor])
    drawn = other.ground_truth[other.ground_truth["anchor_date"] == anchor]
    both = built.merge(drawn, on="child_id", validate="one_to_one")
    assert len(both) == len(drawn) == len(built)
    for outcome in OUTCOMES:
        np.testing.assert_array_equal(
            both[f"label_{outcome}"], both[f"y_recorded_{outcome}"].astype(float)
        )
