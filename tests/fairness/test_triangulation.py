"""The label-bias check's statistics (:mod:`fairness.triangulation`) on tables whose answer
is known: a group recorded 1.8 times as often by one agency, a group recorded alike, a group
too small to judge."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fairness.triangulation import RecordPair, Triangulation, triangulate
from fairness.triangulation_report import finding, render_page

PAIR = RecordPair(name="violence", numerator="police victims", denominator="ED assaults")


def make(extra: dict[str, float], sizes=None, seed: int = 1):
    """People in groups A (reference), B and C; each harmed person has a denominator record
    half the time and a numerator record 0.5 x ``extra[group]`` of the time."""
    rng = np.random.default_rng(seed)
    sizes = sizes or {"A": 6000, "B": 3000, "C": 40}
    people = pd.DataFrame(
        {
            "child_id": [f"{g}{i}" for g, n in sizes.items() for i in range(n)],
            "ethnicity": [g for g, n in sizes.items() for _ in range(n)],
        }
    )
    people["sex"] = np.where(np.arange(len(people)) % 2, "F", "M")
    harmed = people.sample(frac=0.3, random_state=seed)
    rows = []
    for child, group in zip(harmed["child_id"], harmed["ethnicity"], strict=True):
        if rng.random() < 0.5:
            rows.append((child, "denominator"))
        if rng.random() < 0.5 * extra.get(group, 1.0):
            rows.append((child, "numerator"))
    return pd.DataFrame(rows, columns=["child_id", "side"]), people


def run(records, people, **kw) -> Triangulation:
    kw.setdefault("n_boot", 400)
    return triangulate(records, people, PAIR, groups=["ethnicity", "sex"], **kw)


def test_a_group_one_agency_records_more_often_is_flagged():
    records, people = make({"B": 1.8})
    result = run(records, people)
    b = result.row("ethnicity", "B")
    sides = records.merge(people, on="child_id").groupby(["ethnicity", "side"]).size()
    assert b["numerator"] == sides["B", "numerator"]
    assert b["denominator"] == sides["B", "denominator"]
    own = sides["B", "numerator"] / sides["B", "denominator"]
    ref = sides["A", "numerator"] / sides["A", "denominator"]
    assert b["ratio"] == pytest.approx(own) and b["disparity"] == pytest.approx(own / ref)
    assert b["low"] < b["disparity"] < b["high"]
    assert b["flag"] and b["low"] > 1.25 and b["reference"] == "A"
    assert list(result.flagged()["group"]) == ["B"], result.flagged()
    assert "FLAG" in finding(result) and "ethnicity B" in finding(result)


def test_groups_recorded_alike_are_not_flagged():
    records, people = make({})
    result = run(records, people)
    assert result.flagged().empty, result.rows
    b = result.row("ethnicity", "B")
    assert b["judged"] and b["low"] < 1 < b["high"]
    # what it could have seen: a disparity a little above the band, not any disparity at all
    assert 1.25 < b["detectable"] < 1.5
    assert "no group's ratio" in finding(result) and "would have been seen" in finding(result)


def test_a_group_with_few_records_is_reported_and_never_flagged():
    records, people = make({"C": 3.0})
    c = run(records, people).row("ethnicity", "C")
    assert c["numerator"] + c["denominator"] > 0
    assert min(c["numerator"], c["denominator"]) < 10
    assert not c["judged"] and not c["flag"] and "under 10 records" in c["note"]


def test_intervals_resample_people_not_records():
    """Repeating every record three times changes no person's ratio: the intervals must not
    narrow, as they would if records were counted as independent."""
    records, people = make({"B": 1.8})
    once = run(records, people, seed=4).row("ethnicity", "B")
    thrice = run(pd.concat([records] * 3), people, seed=4).row("ethnicity", "B")
    assert thrice["disparity"] == pytest.approx(once["disparity"])
    assert (thrice["low"], thrice["high"]) == pytest.approx((once["low"], once["high"]))


def test_reference_and_intersections_as_asked():
    records, people = make({"B": 1.8})
    result = run(records, people, reference={"ethnicity": "B"}, intersections=True)
    assert result.row("ethnicity", "A")["reference"] == "B"
    assert result.row("ethnicity", "A")["disparity"] < 0.7
    assert result.row("ethnicity × sex", "B × F")["reference"] in {"B × F", "B × M"}


def test_the_result_survives_json():
    records, people = make({"B": 1.8})
    result = run(records, people, window=("2024-01-01", "2026-12-31"))
    back = Triangulation.from_dict(json.loads(json.dumps(result.to_dict())))
    pd.testing.assert_frame_equal(back.rows, result.rows)
    assert (back.pair, back.band, back.window) == (result.pair, result.band, result.window)
    page = render_page([back], title="check", source="test tables")
    assert "<script" not in page and "police victims" in page and "FLAG" in page


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r, p: (r.drop(columns="side"), p), "records has no column 'side'"),
        (lambda r, p: (r.assign(side="police"), p), "must be 'numerator' or 'denominator'"),
        (lambda r, p: (r, p.iloc[10:]), "are not in the people table"),
        (lambda r, p: (r, p.drop(columns="sex")), "people has no column 'sex'"),
    ],
)
def test_bad_input_says_what_is_wrong(change, message):
    records, people = make({})
    with pytest.raises(ValueError, match=message):
        run(*change(records, people))
