"""The partnership overview's computation on small hand-made feature tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from overview_fixtures import CAPACITY, DATES, LABEL, MODEL, Z, make_table, recording_doc

from governance.overview import age_band, audit_rows, partnership_overview
from governance.overview_result import AGE_BANDS, MISSING, OverviewSettings


@pytest.fixture(scope="module")
def rising():
    table, scores = make_table()
    return table, partnership_overview(table, {MODEL: scores}, {MODEL: CAPACITY})


def wilson(k, n, z=Z):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_flags_the_capacity_at_each_snapshot(rising):
    table, overview = rising
    s = overview.snapshots.set_index("snapshot_date")
    assert list(s.index) == list(DATES[1:]), "the snapshot before the window is left out"
    assert (s["flagged"] == CAPACITY).all()
    expected = table[table["snapshot_date"] >= DATES[1]].groupby("snapshot_date").size()
    assert s["children"].tolist() == expected.tolist()


def test_a_share_capacity_is_rounded_up():
    table, scores = make_table()
    overview = partnership_overview(table, {MODEL: scores}, {MODEL: 0.1})
    n = overview.snapshots["children"].to_numpy()
    assert overview.snapshots["flagged"].tolist() == [math.ceil(0.1 * x) for x in n]


def test_group_figures_match_plain_pandas(rising):
    table, overview = rising
    t = table[table["snapshot_date"] >= DATES[1]]
    by = t.groupby(["snapshot_date", "ethnicity"])
    expected = pd.DataFrame({"n": by.size(), "flagged": by["planned"].sum()}).reset_index()
    totals = t.groupby("snapshot_date").agg(N=("planned", "size"), K=("planned", "sum"))
    expected = expected.join(totals, on="snapshot_date")
    g = overview.groups[overview.groups["grouping"] == "ethnicity"]
    got = g.set_index(["snapshot_date", "group"])
    for row in expected.itertuples():
        found = got.loc[(row.snapshot_date, row.ethnicity)]
        if row.n < 10:
            assert found["suppressed"] and pd.isna(found["n"]) and pd.isna(found["ratio"])
            continue
        assert found["n"] == row.n and found["flagged"] == row.flagged
        assert found["population_share"] == pytest.approx(row.n / row.N)
        assert found["flagged_share"] == pytest.approx(row.flagged / row.K)
        ratio = (row.flagged / row.K) / (row.n / row.N)
        assert found["ratio"] == pytest.approx(ratio)
        low, high = wilson(row.flagged, row.n)
        assert found["ratio_low"] == pytest.approx(low / (row.K / row.N))
        assert found["ratio_high"] == pytest.approx(high / (row.K / row.N))


def test_base_rates_match_plain_pandas_where_outcomes_are_known(rising):
    table, overview = rising
    t = table[table["snapshot_date"] == DATES[1]]
    rate = t.groupby("ethnicity")[LABEL].mean()
    g = overview.groups
    g = g[(g["grouping"] == "ethnicity") & (g["snapshot_date"] == DATES[1])].set_index("group")
    for group in ("A", "B"):
        assert g.loc[group, "base_rate"] == pytest.approx(rate[group])
        assert g.loc[group, "base_rate_ratio"] == pytest.approx(rate[group] / t[LABEL].mean())
    later = overview.groups[overview.groups["snapshot_date"] == DATES[-1]]
    assert later["base_rate"].isna().all()
    assert set(later.loc[~later["suppressed"], "base_reason"]) == {"not_yet_known"}


def test_small_cells_are_suppressed_with_their_reason(rising):
    _, overview = rising
    g = overview.groups
    g = g[(g["grouping"] == "ethnicity") & (g["snapshot_date"] == DATES[1])].set_index("group")
    d = g.loc["D"]
    assert d["suppressed"] and d["flag_reason"] == "group_size"
    assert d[["n", "population_share", "flagged", "ratio", "base_rate"]].isna().all()
    c = g.loc["C"]  # 40 children, 10 flagged (shown), 3 with the outcome (suppressed)
    assert not c["suppressed"] and c["flagged"] == 10 and pd.isna(c["flag_reason"])
    assert c["base_reason"] == "positives" and pd.isna(c["base_rate"])
    assert pd.isna(c["positives"]), "the count behind a suppressed rate is suppressed too"
    s = overview.suppression.set_index("grouping").loc["ethnicity"]
    assert (s["groups"], s["groups_suppressed"], s["base_cells_suppressed"]) == (4, 1, 2)


def test_fewer_than_the_minimum_flagged_suppresses_the_flag_figures():
    table, scores = make_table()
    overview = partnership_overview(table, {MODEL: scores}, {MODEL: CAPACITY}, min_cell=11)
    c = overview.groups[
        (overview.groups["grouping"] == "ethnicity") & (overview.groups["group"] == "C")
    ]
    assert (c["flag_reason"] == "flagged").all()
    assert c[["flagged", "flagged_share", "flag_rate", "ratio"]].isna().all().all()
    assert c["n"].notna().all(), "the group's size is still shown"


def test_a_rise_beyond_the_band_is_an_alert_and_a_steady_group_is_not(rising):
    _, overview = rising
    c = overview.changes[overview.changes["grouping"] == "ethnicity"].set_index(
        ["group", "quarters_back"]
    )
    for lag, since in ((4, DATES[5]), (8, DATES[1])):
        b = c.loc[("B", lag)]
        assert b["since"] == since
        assert b["change"] == pytest.approx(1.8)
        assert b["highlight"] and b["direction"] == "rise" and b["low"] > 1.25
        a = c.loc[("A", lag)]
        assert a["highlight"] and a["direction"] == "fall" and a["high"] < 0.8
        assert not c.loc[("C", lag)]["highlight"]
        assert c.loc[("D", lag)]["reason"] == "group_size"
    h = overview.highlights
    alerts = h[h["alert"]]
    assert set(zip(alerts["group"], alerts["kind"], alerts["quarters_back"], strict=True)) == {
        ("A", "change", 4),
        ("A", "change", 8),
        ("B", "change", 4),
        ("B", "change", 8),
    }


def test_the_change_interval_follows_the_flag_counts(rising):
    _, overview = rising
    b = overview.changes.set_index(["grouping", "group", "quarters_back"]).loc[
        ("ethnicity", "B", 4)
    ]
    spread = Z * math.sqrt(1 / 180 - 1 / 1000 + 1 / 100 - 1 / 1000)
    assert b["low"] == pytest.approx(b["change"] * math.exp(-spread))
    assert b["high"] == pytest.approx(b["change"] * math.exp(spread))


def test_a_rise_within_the_noise_is_not_an_alert():
    table, scores = make_table(latest_b=115)
    overview = partnership_overview(table, {MODEL: scores}, {MODEL: CAPACITY})
    c = overview.changes.set_index(["grouping", "group", "quarters_back"])
    assert c.loc[("ethnicity", "B", 8), "change"] == pytest.approx(1.15)
    assert not overview.changes["highlight"].any()
    assert not overview.highlights["alert"].any()


def test_a_standing_difference_is_a_note_with_its_base_rate_ratio(rising):
    _, overview = rising
    h = overview.highlights
    c = h[(h["kind"] == "standing") & (h["group"] == "C")]
    assert len(c) == 1 and not c["alert"].iloc[0] and c["direction"].iloc[0] == "above"
    assert c["low"].iloc[0] > 1.25
    # C's base rate is suppressed (3 with the outcome); B's is shown beside B's standing ratio.
    assert pd.isna(c["base_rate_ratio"].iloc[0])
    b = h[(h["kind"] == "standing") & (h["group"] == "B") & (h["grouping"] == "ethnicity")]
    latest_known = DATES[5]
    assert b["base_rate_date"].iloc[0] == latest_known
    g = overview.groups.set_index(["grouping", "group", "snapshot_date"])
    assert (
        b["base_rate_ratio"].iloc[0] == g.loc[("ethnicity", "B", latest_known), "base_rate_ratio"]
    )


def test_age_bands():
    ages = pd.Series([9, 10, 13, 13.9, 14, 15, 16, 17, 18, 19, np.nan])
    bands = age_band(ages)
    assert list(bands.categories) == [label for _, label in AGE_BANDS]
    assert bands.astype(object).tolist()[:-1] == [
        "under 10",
        "10-13",
        "10-13",
        "10-13",
        "14-15",
        "14-15",
        "16-17",
        "16-17",
        "18+",
        "18+",
    ]
    assert pd.isna(bands[-1])


def test_missing_group_values_are_a_group_of_their_own():
    table, scores = make_table()
    table["sex"] = table["sex"].where(table["child_id"] != "A1", None)
    overview = partnership_overview(table, {MODEL: scores}, {MODEL: CAPACITY})
    sex = overview.groups[overview.groups["grouping"] == "sex"]
    assert MISSING in set(sex["group"])
    assert sex.loc[sex["group"] == MISSING, "suppressed"].all()


def test_audit_rows_sort_the_audits_flags_into_alerts_and_notes():
    doc = recording_doc()
    rows = audit_rows(doc, MODEL).set_index(["group", "metric", "outcome"])
    recording = rows.loc[("Y", "recording_ratio", "true")]
    assert recording["kind"] == "recording" and recording["flag"] and recording["alert"]
    assert recording["ratio"] == pytest.approx(1.5, abs=0.25)
    selection = rows.loc[("Y", "selection_rate", "any")]
    assert selection["kind"] == "policy" and selection["alert"]
    others = rows[rows["kind"] == "other"]
    assert len(others) and others["flag"].all() and not others["alert"].any()
    flagged = {(d["group"], d["metric"], d["outcome"]) for d in doc["disparities"] if d["flag"]}
    assert set(rows[rows["flag"]].index) == flagged


def test_the_audit_alert_is_highlighted_for_its_group():
    table, scores = make_table(latest_b=115)
    table["ethnicity"] = np.where(table["ethnicity"].isin(["A", "C"]), "X", "Y")
    overview = partnership_overview(
        table, {MODEL: scores}, {MODEL: CAPACITY}, audits={MODEL: recording_doc()}
    )
    h = overview.highlights
    alerts = h[h["alert"] & (h["kind"] != "verdict")]
    assert set(zip(alerts["grouping"], alerts["group"], alerts["kind"], strict=True)) == {
        ("ethnicity", "Y", "audit")
    }
    assert set(alerts["metric"]) == {"recording_ratio", "selection_rate"}
    info = overview.models.set_index("model").loc[MODEL]
    assert info["audit_true_outcomes"] and not info["audit_passed"]
    # The failed verdict is an alert about the model itself, and it comes first.
    first = h.iloc[0]
    assert (first["kind"], first["model"], first["alert"]) == ("verdict", MODEL, True)
    assert pd.isna(first["group"]) and (h["kind"] == "verdict").sum() == 1


def test_a_document_of_another_schema_is_refused():
    with pytest.raises(ValueError, match=r"schema 'lantern.fairness/0'.*re-run `lantern audit"):
        audit_rows({"schema": "lantern.fairness/0"}, MODEL)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t, s, c: (t.drop(columns="area"), s, c), r"lacks columns \['area'\]"),
        (lambda t, s, c: (t, {MODEL: s[MODEL][:-1]}, c), r"one score per row"),
        (lambda t, s, c: (t, s, {"other": 0.1}), r"one capacity \(share or count\) per"),
        (lambda t, s, c: (t, s, {MODEL: 1.5}), r"a share of the cohort in \(0, 1\)"),
        (
            lambda t, s, c: (t, {MODEL: np.where(np.arange(len(t)) == 7, np.nan, s[MODEL])}, c),
            r"not finite at row 7",
        ),
    ],
)
def test_bad_input_is_refused_with_what_to_do(change, message):
    table, scores = make_table()
    t, s, c = change(table, {MODEL: scores}, {MODEL: CAPACITY})
    with pytest.raises(ValueError, match=message):
        partnership_overview(t, s, c)


def test_settings_refuse_a_band_that_does_not_hold_one():
    with pytest.raises(ValueError, match="0 < low < 1 < high"):
        OverviewSettings(tolerance=(1.1, 1.25))
    assert OverviewSettings(quarters=8).lags == (4, 8)
