"""Outcome definitions are config: the YAML decides the labels, and a mistake in it is named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from feature_fixtures import tables
from pydantic import ValidationError

from features.build import build_features, snapshot_dates
from features.outcomes import DEFAULT_OUTCOMES, load_outcomes
from features.registry import default_registry

T = pd.Timestamp("2024-09-01")
FEW = default_registry().select(["age_years", "suspect_12m"])


def test_the_packaged_outcomes_load():
    outcomes = load_outcomes()
    assert list(outcomes) == ["exclusion_neet", "serious_violence"]
    neet = outcomes["exclusion_neet"]
    assert neet.window_months == 12
    assert [(c.table, c.where) for c in neet.any_of] == [
        ("exclusions", {"kind": "permanent"}),
        ("education_status", {"activity": "NEET"}),
    ]
    violence = outcomes["serious_violence"]
    assert violence.window_months == 12
    assert [(c.table, c.where) for c in violence.any_of] == [
        ("police", {"serious_violence": True, "role": ["victim", "suspect"]}),
        ("health", {"setting": "emergency_department", "assault_related": True}),
    ]
    assert all(o.description for _, o in outcomes.items())


def test_an_undefined_outcome_is_named():
    with pytest.raises(KeyError, match="no outcome 'violence'.*serious_violence"):
        load_outcomes()["violence"]


# ---------------------------------------------------------------------- a tiny partnership


def tiny() -> dict[str, pd.DataFrame]:
    """Three children and a few records after ``T``; the records run to January 2027."""
    return tables(
        ["2010-01-01", "2010-01-01", "2008-01-01"],
        police=[
            {"child_id": "C000", "date": "2025-05-01", "role": "victim", "serious_violence": True},
            {"child_id": "C001", "date": "2025-05-01", "role": "stop_search"},
            {"child_id": "C002", "date": "2024-09-01", "role": "suspect", "serious_violence": True},
        ],
        youth_justice=[{"child_id": "C001", "date": "2024-12-01"}],
        exclusions=[{"child_id": "C002", "date": "2024-10-01", "kind": "permanent"}],
        education_status=[
            {"child_id": "C001", "month": "2025-10-01", "activity": "NEET"},
            {"child_id": "C002", "month": "2027-01-01", "activity": "EET"},
        ],
    )


def labels(tmp_path: Path, definitions: dict | None, **kwargs) -> pd.DataFrame:
    """Labels of the tiny partnership on ``T`` under outcome definitions written to YAML."""
    outcomes = None
    if definitions is not None:
        path = tmp_path / "outcomes.yaml"
        path.write_text(yaml.safe_dump(definitions, sort_keys=False))
        outcomes = load_outcomes(path)
    frame = build_features(tiny(), [T], registry=FEW, outcomes=outcomes, **kwargs)
    return frame.set_index("child_id").filter(like="label_")


def test_default_labels_on_the_tiny_partnership(tmp_path):
    got = labels(tmp_path, None)
    assert list(got.columns) == ["label_exclusion_neet", "label_serious_violence"]
    # C002's serious violence on t itself is before the window (t, t + 12 months].
    assert list(got["label_serious_violence"]) == [1.0, 0.0, 0.0]
    assert list(got["label_exclusion_neet"]) == [0.0, 0.0, 1.0]


def test_a_shorter_window_in_yaml_changes_the_labels(tmp_path):
    custom = yaml.safe_load(DEFAULT_OUTCOMES.read_text())
    custom["serious_violence"]["window_months"] = 6
    got = labels(tmp_path, custom)
    assert list(got["label_serious_violence"]) == [0.0, 0.0, 0.0]  # C000's is 8 months on
    assert list(got["label_exclusion_neet"]) == [0.0, 0.0, 1.0]


def test_a_longer_window_in_yaml_changes_the_labels(tmp_path):
    custom = yaml.safe_load(DEFAULT_OUTCOMES.read_text())
    custom["exclusion_neet"]["window_months"] = 18
    got = labels(tmp_path, custom)
    assert list(got["label_exclusion_neet"]) == [0.0, 1.0, 1.0]  # C001's NEET 13 months on


def test_a_window_past_the_records_end_gives_missing_labels(tmp_path):
    custom = yaml.safe_load(DEFAULT_OUTCOMES.read_text())
    custom["exclusion_neet"]["window_months"] = 36  # to 2027-09: the records end 2027-01
    got = labels(tmp_path, custom)
    assert got["label_exclusion_neet"].isna().all()
    assert got["label_serious_violence"].notna().all()
    early = labels(tmp_path, None, observed_until=pd.Timestamp("2025-08-31"))
    assert early.isna().all().all()
    exact = labels(tmp_path, None, observed_until=pd.Timestamp("2025-09-01"))
    assert exact.notna().all().all()


def test_other_components_and_new_outcomes_in_yaml_change_the_labels(tmp_path):
    custom = {
        "serious_violence": {
            "description": "Any youth justice outcome.",
            "any_of": [{"table": "youth_justice"}],
        },
        "police_contact": {
            "description": "Any police record.",
            "window_months": 12,
            "any_of": [{"table": "police", "where": {"role": ["stop_search", "victim"]}}],
        },
    }
    got = labels(tmp_path, custom)
    assert list(got.columns) == ["label_serious_violence", "label_police_contact"]
    assert list(got["label_serious_violence"]) == [0.0, 1.0, 0.0]
    assert list(got["label_police_contact"]) == [1.0, 1.0, 0.0]


def test_an_unknown_table_is_named_when_the_yaml_loads(tmp_path):
    custom = yaml.safe_load(DEFAULT_OUTCOMES.read_text())
    custom["serious_violence"]["any_of"][0]["table"] = "polce"
    path = tmp_path / "outcomes.yaml"
    path.write_text(yaml.safe_dump(custom, sort_keys=False))
    with pytest.raises(ValidationError, match=r"unknown table 'polce'; use one of \[.*'police'"):
        load_outcomes(path)


def test_an_unknown_column_is_named_when_labels_are_built(tmp_path):
    custom = yaml.safe_load(DEFAULT_OUTCOMES.read_text())
    custom["serious_violence"]["any_of"][0]["where"] = {"rol": "victim"}
    with pytest.raises(ValueError, match="on 'police' filters on 'rol', which that table does not"):
        labels(tmp_path, custom)


@pytest.mark.parametrize(
    "broken",
    [
        {"window_months": 0},
        {"window_months": 61},
        {"any_of": []},
        {"description": None},
    ],
    ids=["no_window", "window_too_long", "no_components", "no_description"],
)
def test_invalid_definitions_are_refused(tmp_path, broken):
    custom = yaml.safe_load(DEFAULT_OUTCOMES.read_text())
    custom["serious_violence"].update(broken)
    path = tmp_path / "outcomes.yaml"
    path.write_text(yaml.safe_dump(custom, sort_keys=False))
    with pytest.raises(ValidationError, match="serious_violence"):
        load_outcomes(path)


# ---------------------------------------------------------------------- a synthetic partnership


@pytest.fixture(scope="module")
def quarterly(records):
    """Features and labels at every quarterly snapshot of the partnership."""
    dates = snapshot_dates(pd.Timestamp("2022-09-01"), records.data_end(), "quarterly")
    return build_features(records, dates, registry=FEW), records.data_end()


def test_labels_are_missing_where_the_window_passes_the_records_end_and_0_or_1_elsewhere(
    quarterly,
):
    frame, data_end = quarterly
    assert {"label_exclusion_neet", "label_serious_violence"} <= set(frame.columns)
    complete = missing = 0
    for t, rows in frame.groupby("snapshot_date"):
        for column in ("label_exclusion_neet", "label_serious_violence"):
            if t + pd.DateOffset(months=12) > data_end:
                assert rows[column].isna().all(), f"{column} on {t.date()}"
                missing += 1
            else:
                assert rows[column].isin([0.0, 1.0]).all(), f"{column} on {t.date()}"
                complete += 1
    assert complete and missing
    known = frame.dropna(subset=["label_serious_violence"])
    assert known["label_serious_violence"].sum() > 0
    assert known["label_exclusion_neet"].sum() > 0


def _hits(tables: dict[str, pd.DataFrame], t: pd.Timestamp) -> dict[str, set[str]]:
    """Brute force from the raw tables: who has each outcome in (t, t + 12 months]."""
    end = t + pd.DateOffset(months=12)

    def within(frame, column):
        return frame[(frame[column] > t) & (frame[column] <= end)]

    police = within(tables["police"], "date")
    health = within(tables["health"], "date")
    exclusions = within(tables["exclusions"], "date")
    neet = within(tables["education_status"], "month")
    violence = police[police["serious_violence"] & police["role"].isin(["victim", "suspect"])]
    assault = health[(health["setting"] == "emergency_department") & health["assault_related"]]
    return {
        "label_serious_violence": set(violence["child_id"]) | set(assault["child_id"]),
        "label_exclusion_neet": set(exclusions.loc[exclusions["kind"] == "permanent", "child_id"])
        | set(neet.loc[neet["activity"] == "NEET", "child_id"]),
    }


def test_labels_match_a_brute_force_reading_of_the_tables(quarterly, partnership):
    frame, _ = quarterly
    frame = frame.dropna(subset=["label_serious_violence"])
    for t, rows in frame.groupby("snapshot_date"):
        for column, who in _hits(partnership.tables, t).items():
            expected = rows["child_id"].isin(who).astype(float).to_numpy()
            np.testing.assert_array_equal(rows[column].to_numpy(), expected, err_msg=column)
