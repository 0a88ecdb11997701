"""The training data's datasheet: Gebru et al.'s sections, from the run's real data summary."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from governance_checks import BANNED, empty_fields

from features.contract import TABLES
from features.outcomes import load_outcomes
from features.profile import MIN_CELL, data_profile
from governance.datasheet import SECTIONS, contract_summary, datasheet, render_markdown
from governance.partnership import EXAMPLE_FILE, PartnershipSettings, load_partnership, not_supplied
from training.pipeline import data_summary

NAME = "exclusion_neet"


@pytest.fixture(scope="module")
def summary(governance_table, governance_results, governance_registry):
    """The data summary the pipeline logs for the run, for the real trained model."""
    result = governance_results[NAME]
    return data_summary(governance_table, result, governance_registry, load_outcomes()[NAME])


@pytest.fixture(scope="module")
def profile(governance_table, summary):
    return data_profile(governance_table, [f["name"] for f in summary["features"]])


@pytest.fixture(scope="module")
def contract():
    return contract_summary()


@pytest.mark.parametrize("ground_truth", [True, False], ids=["synthetic", "extracts"])
def test_every_section_is_present_and_filled(summary, profile, contract, ground_truth):
    sheet = datasheet(summary, contract, profile=profile, ground_truth=ground_truth)
    for key in SECTIONS:
        assert sheet[key], key
        assert empty_fields(sheet[key]) == [], key
    text = render_markdown(sheet)
    positions = [text.find(f"## {heading}\n") for heading in SECTIONS.values()]
    assert -1 not in positions and positions == sorted(positions)
    assert BANNED.findall(text) == [] and BANNED.findall(json.dumps(sheet)) == []


def test_counts_are_the_runs_own(summary, contract):
    rows = datasheet(summary, contract)["composition"]["counts"]
    for row, part in zip(rows, ("train", "validation", "test"), strict=True):
        assert row["rows"] == f"{summary[part]['rows']:,}"
        assert row["children"] == f"{summary[part]['children']:,}"
        assert row["outcome rate"] == f"{summary[part]['base_rate']:.1%}"
    features = datasheet(summary, contract)["composition"]["features"]
    assert [f["feature"] for f in features] == [f["name"] for f in summary["features"]]


def test_the_profile_measures_missing_values_and_suppresses_small_groups():
    table = pd.DataFrame(
        {
            "a": [1.0, np.nan, np.nan, 4.0] * 5,
            "b": np.arange(20.0),
            "ethnicity": ["White"] * 17 + ["Black"] * 3,
            "sex": ["F", "M"] * 10,
        }
    )
    found = data_profile(table, ["a", "b", "not_a_column"], audit_columns=["ethnicity", "sex"])
    assert found["rows"] == 20
    assert found["missing"] == {"a": 0.5, "b": 0.0}
    assert found["groups"]["ethnicity"] == {"Black": f"fewer than {MIN_CELL}", "White": 17}
    assert found["groups"]["sex"] == {"F": 10, "M": 10}


def test_missing_values_are_listed_from_the_profile(summary, profile, contract, governance_table):
    listed = datasheet(summary, contract, profile=profile)["composition"]["missing_values"]
    gaps = {n: s for n, s in profile["missing"].items() if s > 0}
    assert gaps, "the synthetic partnership has features that are not always known"
    for name, share in gaps.items():
        assert governance_table[name].isna().mean() == pytest.approx(share, abs=1e-4)
        assert f"`{name}`: {share:.1%} of rows empty" in listed
    assert "not measured" in " ".join(datasheet(summary, contract)["composition"]["missing_values"])


def test_protected_characteristics_come_from_the_contract(summary, contract):
    protected = datasheet(summary, contract)["composition"]["protected_characteristics"]
    marked = [
        f"{t}.{c}"
        for t, s in contract.items()
        for c, col in s["columns"].items()
        if col["protected"]
    ]
    assert marked, "the contract marks protected columns"
    for column in marked:
        assert any(f"`{column}`" in line for line in protected), column
    assert set(contract) == set(TABLES)


def test_partnership_facts_are_shown_or_marked_not_supplied(summary, contract):
    extracts = datasheet(summary, contract, ground_truth=False)
    assert extracts["collection_process"]["lawful_basis"] == not_supplied("lawful_basis")
    assert extracts["distribution"]["shared"] == not_supplied("data_sharing_agreement_reference")
    assert extracts["maintenance"]["contact"] == not_supplied("contact_email")
    example = load_partnership(EXAMPLE_FILE)
    filled = datasheet(summary, contract, ground_truth=False, partnership=example)
    assert filled["collection_process"]["lawful_basis"] == example.lawful_basis
    assert filled["maintenance"]["retention"] == example.retention_summary
    synthetic = datasheet(summary, contract, ground_truth=True, partnership=PartnershipSettings())
    assert synthetic["collection_process"]["lawful_basis"].startswith("Not applicable: synthetic")
    assert synthetic["composition"]["synthetic"].startswith("Synthetic")


def test_extracts_linked_by_lantern_are_described_where_the_record_reads_collection(
    summary, contract
):
    report = {
        "records": 1200,
        "children": 500,
        "settings": {"threshold": 0.9},
        "unlinked": [{"agency": "all", "group": "ethnicity", "value": "Asian", "rate": 0.2}],
    }
    sheet = datasheet(summary, contract, linkage=report)
    how = sheet["collection_process"]["how_collected"]
    assert "1,200 person records into 500 children" in how
    assert "match probability of 0.9" in how and "Asian 20.0%" in how
    assert (
        "linked by Lantern"
        not in datasheet(summary, contract)["collection_process"]["how_collected"]
    )
