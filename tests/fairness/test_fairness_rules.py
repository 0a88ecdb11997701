"""Suppression, flags, reference groups, label bias and the policy's verdict, on toys built
to the row so that each rule is met exactly."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from fairness import FairnessPolicy, audit, prepare_report, render_html, to_document


def block(group: str, n: int, positives: int, flagged_pos: int, flagged_neg: int):
    """``n`` rows of ``group``: ``positives`` with the outcome, of whom ``flagged_pos`` are
    flagged (score 1), and ``flagged_neg`` flagged among the rest."""
    y = np.r_[np.ones(positives), np.zeros(n - positives)].astype(int)
    score = np.r_[
        np.ones(flagged_pos),
        np.zeros(positives - flagged_pos),
        np.ones(flagged_neg),
        np.zeros(n - positives - flagged_neg),
    ]
    # spread the scores a little (keeping the flags) so that AUC is defined and untied
    score = score + np.linspace(0, 0.5, n)
    return pd.DataFrame({"group": group, "y": y, "score": score})


def toy(*blocks) -> pd.DataFrame:
    return pd.concat(blocks, ignore_index=True)


# --------------------------------------------------------------------------- suppression


@pytest.fixture(scope="module")
def small_groups():
    data = toy(
        block("Large", 400, 100, 60, 30),
        block("Tiny", 9, 4, 2, 1),
        block("FewPositives", 60, 9, 5, 12),
    )
    result = audit(data, score="score", label="y", groups=["group"], threshold=1.0, n_boot=100)
    report = prepare_report(result, policy=FairnessPolicy(group_columns=["group"]))
    return result, to_document(report), render_html(report)


def _row_text(html: str, group: str) -> list[str]:
    """The visible text of every table row that starts with ``group``."""
    rows = re.findall(rf'<tr[^>]*><td class="text">{group}( \(reference\))?</td>(.*?)</tr>', html)
    return [re.sub(r"<[^>]+>", " ", cells) for _, cells in rows]


def test_a_group_of_nine_is_suppressed_everywhere_and_says_so(small_groups):
    result, doc, html = small_groups
    group = next(g for g in doc["groups"] if g["group"] == "Tiny")
    assert group == {
        "grouping": "group",
        "group": "Tiny",
        "is_reference": False,
        "n": None,
        "flagged": None,
        "suppressed": True,
        "reason": "group_size",
    }
    tiny = [m for m in doc["metrics"] if m["group"] == "Tiny"]
    assert tiny and all(m["value"] is None and m["suppressed"] for m in tiny)
    assert all(d["ratio"] is None for d in doc["disparities"] if d["group"] == "Tiny")
    assert any(s["group"] == "Tiny" and s["table"] == "groups" for s in doc["suppressed"])
    rows = _row_text(html, "Tiny")
    assert rows and all("suppressed" in r and not re.search(r"\d", r) for r in rows)
    suppressed_section = html.split('id="suppressed"')[1].split("</section>")[0]
    assert "Tiny" in suppressed_section and "fewer than 10 in the group" in suppressed_section


def test_nine_positives_suppress_tpr_and_fnr_but_not_size_or_selection(small_groups):
    result, doc, html = small_groups
    few = result.by_group("group").loc["FewPositives"]
    assert math.isnan(few["tpr"]) and math.isnan(few["fnr"])
    assert few["selection_rate"] == pytest.approx(17 / 60)
    assert few["fpr"] == pytest.approx(12 / 51)
    n = result.groups.set_index("group").loc["FewPositives", "n"]
    assert n == 60
    reasons = {
        (m["metric"], m["reason"])
        for m in doc["metrics"]
        if m["group"] == "FewPositives" and m["suppressed"]
    }
    assert ("tpr", "positives") in reasons and ("fnr", "positives") in reasons
    assert ("auc", "positives") in reasons
    assert not any(m for m, _ in reasons if m in ("selection_rate", "base_rate", "fpr"))
    sizes = html.split('id="sizes"')[1].split("</section>")[0]
    assert ">60<" in sizes
    results = _row_text(html.split('id="results"')[1].split("</section>")[0], "FewPositives")[0]
    assert "28.3%" in results and results.count("suppressed") == 3  # TPR, FNR, AUC


def test_ten_flagged_are_needed_for_precision():
    data = toy(block("A", 300, 60, 30, 10), block("B", 100, 30, 5, 4))
    result = audit(data, score="score", label="y", groups=["group"], threshold=1.0, n_boot=0)
    b = result.metrics.set_index(["group", "metric", "outcome"])
    assert b.loc[("B", "precision", "recorded"), "reason"] == "flagged"
    assert b.loc[("B", "fpr", "recorded"), "value"] == pytest.approx(4 / 70)


# --------------------------------------------------------------------------- flags


@pytest.fixture(scope="module")
def disparity():
    data = toy(
        block("A", 2000, 400, 200, 100),  # selection 15%
        block("B", 1000, 200, 160, 140),  # selection 30%: ratio 2, clearly outside
        block("C", 60, 12, 6, 6),  # selection 20%: ratio 1.33, interval straddles 1.25
    )
    return audit(data, score="score", label="y", groups=["group"], threshold=1.0, n_boot=300)


def test_reference_is_the_largest_group_by_default(disparity):
    assert disparity.grouping("group").reference == "A"
    assert disparity.groups.set_index("group").loc["A", "is_reference"]


def test_wholly_outside_is_flagged_and_straddling_is_not(disparity):
    d = disparity.disparities.set_index(["group", "metric"])
    b, c = d.loc[("B", "selection_rate")], d.loc[("C", "selection_rate")]
    assert b["ratio"] == pytest.approx(2.0) and b["low"] > 1.25 and b["flag"]
    assert c["ratio"] == pytest.approx(4 / 3) and c["low"] < 1.25 < c["high"]
    assert not c["flag"]
    assert d.loc[("B", "fnr"), "ratio"] == pytest.approx(0.2 / 0.5) and d.loc[("B", "fnr"), "flag"]
    assert not disparity.flags["group"].eq("A").any()


def test_a_named_reference_and_a_wider_band(frame):
    result = audit(
        frame,
        score="score",
        label="y",
        groups=["ethnicity", "sex"],
        threshold=0.45,
        references={"ethnicity": "Black"},
        tolerance=(0.5, 2.0),
        n_boot=50,
    )
    assert result.grouping("ethnicity").reference == "Black"
    assert result.grouping("ethnicity × sex").reference.startswith("Black × ")
    assert result.settings.tolerance == (0.5, 2.0)
    with pytest.raises(ValueError, match="its groups are: .*White"):
        audit(
            frame,
            score="score",
            label="y",
            groups=["ethnicity"],
            threshold=0.4,
            references={"ethnicity": "Purple"},
            n_boot=0,
        )


def test_bad_input_names_the_column_and_row(frame):
    bad = frame.assign(y=frame["y"].astype(object))
    bad.loc[7, "y"] = 2
    with pytest.raises(ValueError, match=r"'y' must hold only 0 and 1.*row 7.*2"):
        audit(bad, score="score", label="y", groups=["sex"], threshold=0.5)
    with pytest.raises(ValueError, match="columns are: .*ethnicity"):
        audit(frame, score="score", label="y", groups=["race"], threshold=0.5)
    nan_score = frame.assign(score=frame["score"].where(frame.index != 3))
    with pytest.raises(ValueError, match="'score' must be a finite number.*row 3"):
        audit(nan_score, score="score", label="y", groups=["sex"], threshold=0.5)


def test_missing_group_values_form_their_own_group(frame):
    data = frame.assign(sex=frame["sex"].where(frame.index % 50 != 0))
    result = audit(data, score="score", label="y", groups=["sex"], threshold=0.45, n_boot=0)
    sizes = result.groups.set_index("group")["n"]
    assert sizes["(missing)"] == 60 and sizes.drop("all").sum() == len(frame)


# --------------------------------------------------------------------------- label bias


@pytest.fixture(scope="module")
def label_bias():
    """True outcomes equal in both groups (20%), but A's are recorded only half the time."""
    rows = []
    for group, recorded_share in (("A", 0.5), ("B", 1.0)):
        n, positives = 2000, 400
        y_true = np.r_[np.ones(positives), np.zeros(n - positives)].astype(int)
        y = y_true.copy()
        y[: int(positives * (1 - recorded_share))] = 0
        score = np.r_[np.full(positives, 0.6), np.full(n - positives, 0.2)]
        score = score + np.linspace(0, 0.25, n)  # flagged: score >= 0.5
        rows.append(pd.DataFrame({"group": group, "y": y, "y_true": y_true, "score": score}))
    data = pd.concat(rows, ignore_index=True)
    return audit(
        data,
        score="score",
        label="y",
        true_label="y_true",
        groups=["group"],
        threshold=0.5,
        references={"group": "B"},
        n_boot=200,
    )


def test_true_outcome_metrics_appear_beside_recorded(label_bias):
    assert label_bias.outcomes == ("recorded", "true")
    recorded, true = label_bias.by_group("group", "recorded"), label_bias.by_group("group", "true")
    assert recorded.loc["A", "base_rate"] == pytest.approx(0.1)
    assert true.loc["A", "base_rate"] == pytest.approx(0.2)
    # the score flags every truly positive child; half of A's flags look "false" on record
    assert recorded.loc["A", "precision"] == pytest.approx(0.5)
    assert true.loc["A", "precision"] == pytest.approx(1.0)
    ratios = label_bias.disparities.set_index(["group", "metric", "outcome"])
    assert ratios.loc[("A", "base_rate", "recorded"), "flag"]
    assert not ratios.loc[("A", "base_rate", "true"), "flag"]
    assert ratios.loc[("A", "base_rate", "true"), "ratio"] == pytest.approx(1.0)


def test_the_report_shows_recorded_and_true_side_by_side(label_bias):
    html = render_html(prepare_report(label_bias))
    section = html.split('id="label_bias"')[1].split("</section>")[0]
    assert "base rate recorded" in section and "base rate true" in section
    assert "10.0%" in section and "20.0%" in section


# --------------------------------------------------------------------------- policy


def test_policy_fails_with_reasons_naming_group_and_metric(disparity):
    verdict = FairnessPolicy(group_columns=["group"]).verdict(disparity)
    assert verdict["passed"] is False
    assert any(
        "group = B" in r and "false negative rate" in r and "wholly below" in r
        for r in verdict["reasons"]
    )
    assert any("group = B" in r and "selection rate" in r for r in verdict["reasons"])
    assert not any("group = C" in r for r in verdict["reasons"])
    assert {(f["group"], f["metric"]) for f in verdict["flags"]} >= {("B", "fnr"), ("B", "tpr")}
    json.dumps(verdict)  # the verdict is what `lantern promote` reads: plain JSON


def test_policy_passes_when_no_interval_is_wholly_outside():
    data = toy(block("A", 2000, 400, 200, 100), block("B", 1000, 200, 100, 50))
    result = audit(data, score="score", label="y", groups=["group"], threshold=1.0, n_boot=200)
    verdict = FairnessPolicy(group_columns=["group"]).verdict(result)
    assert verdict == {
        "passed": True,
        "reasons": [verdict["reasons"][0]],
        "flags": [],
        "not_checked": [],
        "gated": (
            "fails a model where a group's false negative rate (FNR) outside the band, "
            "recall (TPR) outside the band, selection rate outside the band 0.80-1.25, over group"
        ),
    }
    assert verdict["reasons"][0].startswith("no group's false negative rate")


def test_default_policy_checks_ethnicity_and_send_and_fails_closed(frame, disparity):
    policy = FairnessPolicy()
    assert policy.metrics == ["fnr", "tpr", "selection_rate"]
    assert policy.group_columns == ["ethnicity", "send"]
    verdict = policy.verdict(disparity)
    assert not verdict["passed"] and "no grouping 'ethnicity'" in verdict["reasons"][0]
    result = audit(
        frame, score="score", label="y", groups=["ethnicity", "send"], threshold=0.45, n_boot=100
    )
    verdict = policy.verdict(result)
    assert any("Unknown" in s and "not checked" in s for s in verdict["not_checked"])


def test_the_promotion_gate_reads_the_verdict(disparity):
    from training.promotion import PromotionPolicy, fairness_gate

    verdict = FairnessPolicy(group_columns=["group"]).verdict(disparity)
    gate = fairness_gate(verdict, PromotionPolicy())
    assert not gate.passed and "group = B" in gate.reason


def test_policy_rejects_a_band_that_excludes_one():
    with pytest.raises(ValueError, match="0 < low < 1 < high"):
        FairnessPolicy(tolerance=(1.1, 1.3))


def _selection_ratio(result, group):
    d = result.disparities
    return d[(d["group"] == group) & (d["metric"] == "selection_rate")].iloc[0]


def test_a_rate_with_too_few_events_to_judge_is_not_flagged():
    """13 children, none flagged, at a 2% capacity: about 0.3 were expected at the reference
    rate, so a ratio of 0 (bootstrap interval [0, 0]) says nothing and must not be flagged."""
    rng = np.random.default_rng(3)
    n_big = 2000
    frame = pd.DataFrame(
        {
            "score": np.r_[rng.random(n_big), np.zeros(13)],
            "label": np.r_[rng.random(n_big) < 0.1, np.zeros(13, bool)].astype(int),
            "group": ["big"] * n_big + ["small"] * 13,
        }
    )
    result = audit(frame, score="score", label="label", groups=["group"], top_k=0.02, n_boot=200)
    row = _selection_ratio(result, "small")
    assert not row["flag"] and row["suppressed"] and row["reason"] == "events"


def test_a_large_group_never_flagged_is_flagged():
    """1,000 children, none flagged, where about 20 were expected: that gap is real."""
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "score": np.r_[rng.random(2000), rng.random(1000) * 0.5],
            "label": (rng.random(3000) < 0.1).astype(int),
            "group": ["a"] * 2000 + ["b"] * 1000,
        }
    )
    result = audit(frame, score="score", label="label", groups=["group"], top_k=0.02, n_boot=200)
    row = _selection_ratio(result, "b")
    assert row["ratio"] == 0 and row["flag"] and not row["suppressed"]


def _two_groups(miss_b: float, rng_seed: int = 5) -> pd.DataFrame:
    """Group b's children with the outcome are scored low with probability ``miss_b``."""
    rng = np.random.default_rng(rng_seed)
    n = 3000
    group = np.where(np.arange(n) < 2000, "a", "b")
    label = (rng.random(n) < 0.2).astype(int)
    score = rng.random(n) * 0.6 + label * 0.4
    missed = (group == "b") & (label == 1) & (rng.random(n) < miss_b)
    score[missed] = rng.random(missed.sum()) * 0.4
    return pd.DataFrame({"score": score, "label": label, "group": group})


def test_assistive_policy_fails_a_group_missed_more_often():
    result = audit(
        _two_groups(0.6), score="score", label="label", groups=["group"], threshold=0.5, n_boot=200
    )
    verdict = FairnessPolicy.assistive(group_columns=["group"]).verdict(result)
    assert not verdict["passed"]
    assert {f["metric"] for f in verdict["flags"]} <= {"fnr", "tpr"} and verdict["flags"]
    assert "group = b" in " ".join(verdict["reasons"])


def test_assistive_policy_passes_over_selection_but_the_report_still_flags_it():
    frame = _two_groups(0.0)
    # Group b is flagged far more often at no outcome: a disparity the board must see.
    over = (frame["group"] == "b") & (frame["label"] == 0)
    frame.loc[over, "score"] = frame.loc[over, "score"] + 0.3
    result = audit(frame, score="score", label="label", groups=["group"], threshold=0.5, n_boot=200)
    assert FairnessPolicy.assistive(group_columns=["group"]).verdict(result)["passed"]
    assert not FairnessPolicy(group_columns=["group"]).verdict(result)["passed"]
    assert set(result.flags["metric"]) >= {"fpr", "selection_rate"}


def _recorded_more(factor: float, seed: int = 6) -> pd.DataFrame:
    """True outcomes at 10% in both groups; group b's are recorded ``factor`` times as often
    (extra records for children whose true outcome did not happen), group a's exactly."""
    rng = np.random.default_rng(seed)
    n = 20000
    group = np.where(np.arange(n) < n // 2, "a", "b")
    true = rng.random(n) < 0.1
    extra = (group == "b") & ~true & (rng.random(n) < (factor - 1) * 0.1 / 0.9)
    return pd.DataFrame(
        {
            "score": rng.random(n),
            "true": true.astype(int),
            "recorded": (true | extra).astype(int),
            "group": group,
        }
    )


def test_the_recording_disparity_is_the_ratio_of_recorded_to_true_base_rates():
    frame = _recorded_more(1.5)
    result = audit(
        frame,
        score="score",
        label="recorded",
        true_label="true",
        groups=["group"],
        top_k=0.02,
        n_boot=200,
    )
    d = result.disparities
    row = d[(d["group"] == "b") & (d["metric"] == "recording_ratio")].iloc[0]
    by_hand = (
        frame.loc[frame.group == "b", "recorded"].mean()
        / frame.loc[frame.group == "b", "true"].mean()
    )
    assert row["outcome"] == "true" and abs(row["ratio"] - by_hand) < 1e-12
    assert row["flag"] and row["low"] > 1.25


def test_equal_recording_gives_a_recording_disparity_of_exactly_one():
    result = audit(
        _recorded_more(1.0),
        score="score",
        label="recorded",
        true_label="true",
        groups=["group"],
        top_k=0.02,
        n_boot=200,
    )
    d = result.disparities
    row = d[(d["group"] == "b") & (d["metric"] == "recording_ratio")].iloc[0]
    assert row["ratio"] == 1.0 and not row["flag"]


def test_no_recording_disparity_without_true_outcomes():
    result = audit(
        _recorded_more(1.5),
        score="score",
        label="recorded",
        groups=["group"],
        top_k=0.02,
        n_boot=50,
    )
    assert "recording_ratio" not in set(result.disparities["metric"])


def _intersection_toy(miss_asian_girls: float, seed: int = 4) -> pd.DataFrame:
    """Four cells of ethnicity x sex with the same base rate; Asian girls' positives are
    missed with probability ``miss_asian_girls`` (the others as usual), so that neither
    column alone shows much while the cell does."""
    rng = np.random.default_rng(seed)
    cells = {("White", "M"): 6000, ("White", "F"): 6000, ("Asian", "M"): 1500, ("Asian", "F"): 1500}
    frames = []
    for (ethnicity, sex), n in cells.items():
        label = (rng.random(n) < 0.2).astype(int)
        score = np.where(label == 1, 0.5 + rng.random(n) * 0.5, rng.random(n) * 0.6)
        if (ethnicity, sex) == ("Asian", "F"):
            missed = (label == 1) & (rng.random(n) < miss_asian_girls)
            score[missed] = rng.random(missed.sum()) * 0.4
        frames.append(
            pd.DataFrame(
                {"score": score, "label": label, "ethnicity": ethnicity, "sex": sex, "send": "none"}
            )
        )
    return pd.concat(frames, ignore_index=True)


def _intersection_audit(frame: pd.DataFrame):
    return audit(
        frame,
        score="score",
        label="label",
        groups=["ethnicity", "send", "sex"],
        intersections=[("ethnicity", "send"), ("ethnicity", "sex")],
        threshold=0.5,
        n_boot=200,
    )


def test_the_assistive_gate_sees_a_group_missed_only_at_an_intersection():
    result = _intersection_audit(_intersection_toy(0.5))
    verdict = FairnessPolicy.assistive().verdict(result)
    assert not verdict["passed"]
    flagged = {(f["grouping"], f["group"]) for f in verdict["flags"]}
    assert ("ethnicity × sex", "Asian × F") in flagged
    assert any("ethnicity × sex = Asian × F" in r for r in verdict["reasons"])
    # the same audit passes a policy that gates the columns alone: the board must choose
    narrower = FairnessPolicy.assistive(intersections=[])
    assert ("ethnicity × sex", "Asian × F") not in {
        (f["grouping"], f["group"]) for f in narrower.verdict(result)["flags"]
    }


def test_an_intersection_cell_too_small_to_judge_is_said_not_failed():
    frame = _intersection_toy(0.9)  # Asian girls missed, but only a few of them remain
    asian_girls = frame[(frame["ethnicity"] == "Asian") & (frame["sex"] == "F")]
    small = frame.drop(asian_girls.index[40:])  # about 8 with the outcome: too few
    verdict = FairnessPolicy.assistive().verdict(_intersection_audit(small))
    assert ("ethnicity × sex", "Asian × F") not in {
        (f["grouping"], f["group"]) for f in verdict["flags"]
    }
    skipped = [s for s in verdict["not_checked"] if s.startswith("ethnicity × sex = Asian × F")]
    assert skipped and all("not checked" in s for s in skipped)


def test_a_policy_intersection_must_pair_its_group_columns():
    with pytest.raises(ValueError, match="pairs of distinct group columns"):
        FairnessPolicy(group_columns=["ethnicity"], intersections=[("ethnicity", "sex")])
    assert FairnessPolicy.assistive(group_columns=["group"]).intersections == []
