"""The injected-bias check: the audit must see a recording bias the generator put in.

``SynthConfig(police_recording_bias=1.5)`` makes the police record Black children's serious
violence 1.5 times as often as it happens (and their stop-and-search and suspect records 1.5
times as often at equal behaviour). Auditing the violence model with the true outcomes beside
the recorded ones must flag that recording disparity for Black children; with the bias off it
must not. The bias is checked on three partnerships (seeds), its absence on one (it cannot
differ by seed), each case on its own; ``make bench`` reports the rate over
more seeds at the full size.
"""

from __future__ import annotations

import pandas as pd
import pytest
from training_fixtures import BOOTSTRAP

from fairness import audit
from features.build import build_features, default_snapshot_dates, label_column
from features.pointintime import index_records
from features.synth import SynthConfig, generate
from training.pipeline import scored_test_rows, train_outcome

CHILDREN = 15_000
"""Enough that three labelled years hold a few hundred Black children's outcomes (London mix)."""

SEEDS = (3, 7, 11)
OUTCOME = "serious_violence"


def recording_disparity(bias: float, seed: int, settings) -> pd.Series:
    """The Black/White recording disparity row of the violence model's audit."""
    partnership = generate(
        SynthConfig(
            children=CHILDREN, seed=seed, ethnicity_preset="london", police_recording_bias=bias
        )
    )
    records = index_records(partnership.tables)
    table = build_features(records, default_snapshot_dates(records, "annual"))
    result = train_outcome(table, OUTCOME, settings, ground_truth=partnership.ground_truth)
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
    return row.iloc[0]


@pytest.fixture(scope="module")
def quick_settings(fast_settings):
    """Training settings with fewer trees: the check is of the audit, not the model."""
    lgbm = fast_settings.lightgbm.model_copy(update={"n_estimators": 300, "learning_rate": 0.1})
    return fast_settings.model_copy(update={"lightgbm": lgbm, "bootstrap": BOOTSTRAP})


@pytest.mark.slow
@pytest.mark.parametrize("bias, seed", [(1.5, seed) for seed in SEEDS])
def test_injected_recording_bias_is_flagged(quick_settings, bias, seed):
    row = recording_disparity(bias, seed, quick_settings)
    summary = f"{row['ratio']:.2f} ({row['low']:.2f}-{row['high']:.2f})"
    assert row["flag"], f"bias {bias} missed in partnership {seed}: {summary}"
    assert row["low"] > 1.25, summary


@pytest.mark.slow
@pytest.mark.parametrize("bias, seed", [(1.0, SEEDS[0])])
def test_no_recording_bias_is_not_flagged(quick_settings, bias, seed):
    """One partnership only: with the bias off, recorded and true outcomes are the same
    records, so the ratio is exactly 1 on any seed (issue 15: a check that cannot fail)."""
    row = recording_disparity(bias, seed, quick_settings)
    summary = f"{row['ratio']:.2f} ({row['low']:.2f}-{row['high']:.2f})"
    assert not row["flag"], f"bias off but flagged in partnership {seed}: {summary}"
    assert row["ratio"] == pytest.approx(1.0)
