"""The injected-bias check: the audit must see a recording bias the generator put in.

``SynthConfig(police_recording_bias=1.5)`` makes the police record Black children's serious
violence 1.5 times as often as it happens (and their stop-and-search and suspect records 1.5
times as often at equal behaviour). Two views must see it:

- the true-outcome view (synthetic data only): auditing the violence model with the true
  outcomes beside the recorded ones flags the recording disparity for Black children;
- the label-bias check (``lantern label-bias``), from recorded data alone: police victim
  records per ED assault attendance are higher for Black children than for White.

Neither may flag equal under-recording: ``police_recording_rate=0.8`` makes the police miss a
fifth of every group's violence, so recorded and true outcomes differ (the check could fail)
but not by group. The bias is checked on three partnerships (seeds), its absence on one; the
tests of one seed run together, so its partnership is made once (``BY_PARAMETER`` in
tests/conftest.py). ``make bench`` reports the rates over 10 seeds at the full size.
"""

from __future__ import annotations

from functools import cache

import pandas as pd
import pytest
from training_fixtures import BOOTSTRAP

from fairness import audit
from features.build import build_features, default_snapshot_dates, label_column
from features.pointintime import index_records
from features.synth import SynthConfig, generate
from training.label_bias import check_label_bias
from training.pipeline import scored_test_rows, train_outcome

CHILDREN = 15_000
"""Enough that three labelled years hold a few hundred Black children's outcomes (London mix)."""

SEEDS = (3, 7, 11)
OUTCOME = "serious_violence"
BIASED = {"police_recording_bias": 1.5}
UNDER_RECORDED = {"police_recording_rate": 0.8}
"""Equal under-recording: the police miss a fifth of every group's serious violence."""


@cache
def partnership(seed: int, **knobs):
    """One London-mix partnership, generated once per module for both views."""
    return generate(SynthConfig(children=CHILDREN, seed=seed, ethnicity_preset="london", **knobs))


def recording_disparity(knobs: dict, seed: int, settings) -> tuple[pd.Series, pd.DataFrame]:
    """The Black/White recording disparity row of the violence model's audit, and each
    ethnic group's recording ratio (recorded over true base rate)."""
    made = partnership(seed, **knobs)
    records = index_records(made.tables)
    table = build_features(records, default_snapshot_dates(records, "annual"))
    result = train_outcome(table, OUTCOME, settings, ground_truth=made.ground_truth)
    assert result.evaluation.label_rows is not None, "the ground truth should cover the labels"
    # the audit's ethnicity grouping alone: the check reads one of its rows
    audited = audit(
        scored_test_rows(table, result),
        score="score_lantern",
        label=label_column(OUTCOME),
        groups=["ethnicity"],
        intersections=False,
        top_k=0.02,
        true_label="true_label",
        cluster="child_id",
        recording_rows=result.evaluation.label_rows,
        n_boot=300,
        seed=seed,
    )
    d = audited.disparities
    row = d[
        (d["grouping"] == "ethnicity")
        & (d["group"] == "Black")
        & (d["metric"] == "recording_ratio")
    ]
    assert len(row) == 1 and row["reference"].iloc[0] == "White"
    assert (
        audited.recording_n
        == len(result.evaluation.label_rows)
        > len(scored_test_rows(table, result))
    )
    m = audited.metrics
    own = m[(m["grouping"] == "ethnicity") & (m["metric"] == "recording_ratio")]
    return row.iloc[0], own.set_index("group")["value"]


@pytest.fixture(scope="module")
def quick_settings(fast_settings):
    """Training settings with fewer trees: the check is of the audit, not the model."""
    lgbm = fast_settings.lightgbm.model_copy(update={"n_estimators": 300, "learning_rate": 0.1})
    return fast_settings.model_copy(update={"lightgbm": lgbm, "bootstrap": BOOTSTRAP})


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_injected_recording_bias_is_flagged(quick_settings, seed):
    row, _ = recording_disparity(BIASED, seed, quick_settings)
    summary = f"{row['ratio']:.2f} ({row['low']:.2f}-{row['high']:.2f})"
    assert row["flag"], f"bias 1.5 missed in partnership {seed}: {summary}"
    assert row["low"] > 1.25, summary


@pytest.mark.slow
def test_equal_under_recording_is_not_flagged(quick_settings):
    """The police miss a fifth of everyone's violence: recorded and true outcomes differ in
    every group (so a broken check would flag), but not between groups."""
    row, own = recording_disparity(UNDER_RECORDED, SEEDS[0], quick_settings)
    summary = f"{row['ratio']:.2f} ({row['low']:.2f}-{row['high']:.2f})"
    assert not row["flag"], f"equal under-recording flagged in partnership {SEEDS[0]}: {summary}"
    assert 0.8 < row["ratio"] < 1.25, summary
    # recorded / true is below 1 for every large group: what the police missed and no ED saw
    assert (own[["White", "Black", "Asian"]] < 0.97).all(), own.round(3).to_dict()


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_label_bias_check_sees_the_bias_without_ground_truth(seed):
    [check] = check_label_bias(partnership(seed, **BIASED).tables, OUTCOME, n_boot=500, seed=seed)
    black = check.row("ethnicity", "Black")
    summary = f"{black['disparity']:.2f} ({black['low']:.2f}-{black['high']:.2f})"
    assert black["flag"] and black["reference"] == "White", summary
    assert black["low"] > 1.25, summary
    flagged = set(check.flagged()["group"])
    assert flagged <= {"Black", "Black × F", "Black × M"}, flagged


@pytest.mark.slow
def test_label_bias_check_does_not_flag_equal_under_recording():
    [check] = check_label_bias(
        partnership(SEEDS[0], **UNDER_RECORDED).tables, OUTCOME, n_boot=500, seed=SEEDS[0]
    )
    assert check.flagged().empty, check.flagged().round(2).to_string()
    judged = check.rows[check.rows["judged"]]
    assert {"Black", "Asian", "F"} <= set(judged["group"]), judged["group"].tolist()
