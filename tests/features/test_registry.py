"""The feature registry: what every feature promises, and what the builder does with it."""

from __future__ import annotations

import re
from typing import get_args

import numpy as np
import pandas as pd
import pytest

from features import definitions
from features.build import AUDIT_COLUMNS, KEY_COLUMNS, build_snapshot
from features.pointintime import DATE_COLUMN, AsOf
from features.registry import SOURCES, FeatureSpec, Registry, Unit, default_registry, feature

REGISTRY = default_registry()
SPECS = list(REGISTRY.values())
UNITS = set(get_args(Unit))
POLICE = dict(
    source="police",
    window="12 months",
    unit="count",
    direction="raises",
    why="Previous suspects of violence are a named risk group",
)
"""The decorator's required arguments, for the tests' own features."""

PROTECTED = re.compile(
    r"\b(ethnic\w*|race|racial|sex|sexes|gender\w*|religio\w*|faith|black|white|asian)\b",
    re.IGNORECASE,
)
LABEL_WORDS = ("gang", "offender", "chooses to", "choose to")


def _ids(spec) -> str:
    return spec.name


def test_the_registry_has_at_least_40_features():
    assert len(REGISTRY) >= 40


def test_every_event_source_has_a_feature():
    sources = REGISTRY.sources()
    event_sources = {s for s in SOURCES if s in DATE_COLUMN} | {"relationships"}
    missing = event_sources - sources
    assert not missing, f"sources without a feature: {sorted(missing)}"
    # All seven agencies: school (census or exclusions), social care, police, health,
    # youth justice, the careers service; plus family and peer links.
    agencies = {SOURCES[s] for s in sources}
    assert {
        "School",
        "Children's social care",
        "Police",
        "Health",
        "Youth justice service",
        "Careers and participation service",
        "Family and peer links",
    } <= agencies
    assert sources <= set(SOURCES)


def test_names_are_unique_identifiers_equal_to_the_function_name():
    names = [
        name
        for module in definitions.MODULES
        for name, func in vars(module).items()
        if hasattr(func, "__lantern_feature__") and func.__module__ == module.__name__
    ]
    assert len(names) == len(set(names)) == len(REGISTRY)
    assert list(REGISTRY) == names
    for spec in SPECS:
        assert spec.name.isidentifier() and spec.name == spec.name.lower()
        assert spec.func.__name__ == spec.name


def test_a_feature_defined_twice_is_refused():
    spec = SPECS[0]
    with pytest.raises(ValueError, match=f"{spec.name}.*defined twice"):
        Registry([spec, spec])


@pytest.mark.parametrize("spec", SPECS, ids=_ids)
def test_every_feature_has_a_one_line_description_and_a_unit(spec):
    assert spec.description, f"{spec.name} has no description"
    assert "\n" not in spec.description
    assert "{" not in spec.description and "}" not in spec.description
    assert spec.description[0].isupper()
    assert spec.unit in UNITS
    assert spec.source in SOURCES
    assert spec.window.strip() == spec.window and spec.window
    assert isinstance(spec.sensitive, bool)


@pytest.mark.parametrize("spec", SPECS, ids=_ids)
def test_no_feature_mentions_a_protected_characteristic_or_labels_a_child(spec):
    for text in (spec.name.replace("_", " "), spec.description):
        assert not PROTECTED.search(text), f"{spec.name}: {text!r}"
        for word in LABEL_WORDS:
            assert word not in text.lower(), f"{spec.name}: {text!r} says {word!r}"


def test_the_feature_decorator_refuses_a_missing_docstring():
    with pytest.raises(ValueError, match="needs a one-line docstring") as raised:

        @feature(**POLICE)
        def undocumented(asof):
            return asof.count("police")

    assert "undocumented" in str(raised.value)
    assert "phrase a practitioner reads" in str(raised.value)


def test_the_feature_decorator_refuses_a_multi_line_docstring():
    with pytest.raises(ValueError, match="wordy needs a one-line docstring"):

        @feature(**POLICE)
        def wordy(asof):
            """Police records in the last 12 months.

            And more words that no explanation can show.
            """
            return asof.count("police")


def test_the_feature_decorator_refuses_an_unknown_source():
    with pytest.raises(ValueError, match="unknown feature source 'polic'.*police"):
        feature(**{**POLICE, "source": "polic"})


def test_the_feature_decorator_marks_a_documented_function():
    @feature(**POLICE)
    def police_records_12m(asof):
        """Police records in the last 12 months."""
        return asof.count("police", months=12)

    meta = police_records_12m.__lantern_feature__
    assert meta == dict(**POLICE, no="", lever="", typical=None, sensitive=False, context=False)


def test_a_flag_needs_its_no_phrase_and_only_a_flag_has_one():
    with pytest.raises(ValueError, match="a flag needs its `no` phrase"):
        feature(**{**POLICE, "unit": "flag"})
    with pytest.raises(ValueError, match="only a flag has one"):
        feature(**POLICE, no="No police records")


def test_an_actionable_feature_gives_its_lever_and_typical_level_together():
    for partial in ({"lever": "attendance"}, {"typical": 0.95}):
        with pytest.raises(ValueError, match="names its `lever` and its `typical` level"):
            feature(**POLICE, **partial)
    meta = feature(**POLICE, lever="missing", typical=0.0)(_documented).__lantern_feature__
    assert (meta["lever"], meta["typical"]) == ("missing", 0.0)


def _documented(asof):
    """Police records in the last 12 months."""
    return asof.count("police", months=12)


def test_every_flag_reads_naturally_both_ways():
    for spec in SPECS:
        if spec.unit != "flag":
            continue
        yes, no = spec.reads(1.0), spec.reads(0.0)
        assert yes == spec.description.rstrip(".") and no == spec.no, spec.name
        assert ": yes" not in yes + no and ": no" not in yes + no, spec.name
        assert spec.reads(float("nan")).endswith(": not recorded"), spec.name


def test_the_feature_decorator_refuses_an_unknown_direction_or_no_reason():
    with pytest.raises(ValueError, match="unknown feature direction 'up'.*either.*protective"):
        feature(**{**POLICE, "direction": "up"})
    for why in ("", "  ", "one line\nand another"):
        with pytest.raises(ValueError, match="needs a one-line reason"):
            feature(**{**POLICE, "why": why})


def test_every_feature_declares_a_direction_with_its_reason():
    registry = default_registry()
    for spec in registry.values():
        assert spec.direction in ("raises", "protective", "either"), spec.name
        assert spec.why.strip() and "\n" not in spec.why, spec.name
        assert spec.monotone == {"raises": 1, "protective": -1, "either": 0}[spec.direction]
    # age is context and free; attendance protects; suspensions raise concern
    assert registry["age_years"].direction == "either"
    assert registry["attendance_12m"].direction == "protective"
    assert registry["suspensions_12m"].direction == "raises"


def test_select_keeps_the_order_given_and_unknown_names_say_where_to_look():
    chosen = REGISTRY.select(["suspect_12m", "age_years", "neet_now"])
    assert list(chosen) == ["suspect_12m", "age_years", "neet_now"]
    assert chosen["age_years"] is REGISTRY["age_years"]
    with pytest.raises(KeyError, match=r"no feature named 'suspect_13m'; `lantern [a-z -]+`"):
        REGISTRY.select(["suspect_12m", "suspect_13m"])
    with pytest.raises(KeyError, match="suspect_13m"):
        REGISTRY["suspect_13m"]


def test_phrases_read_for_a_practitioner():
    assert (
        REGISTRY["attendance_last_term"].phrase(0.71) == "Attendance over the last school term: 71%"
    )
    assert REGISTRY["suspect_12m"].phrase(np.nan).endswith(": not recorded")
    assert REGISTRY["looked_after_open"].phrase(1.0).endswith(": yes")
    assert REGISTRY["age_years"].phrase(14.0) == "Age in years: 14 years"


# ---------------------------------------------------------------------- on a partnership


@pytest.fixture(scope="module")
def asofs(records, partnership):
    """The partnership on its first day (little history) and two years in."""
    first = pd.Timestamp(partnership.anchors[0])
    return [AsOf(records, first), AsOf(records, partnership.anchors[2])]


@pytest.mark.parametrize("spec", SPECS, ids=_ids)
def test_every_feature_gives_one_finite_float_or_nan_per_cohort_child(spec, asofs):
    for asof in asofs:
        assert asof.n > 100
        values = spec.func(asof)
        assert isinstance(values, np.ndarray)
        assert values.shape == (asof.n,), f"{spec.name} on {asof.t.date()}: {values.shape}"
        values = values.astype(float)
        assert not np.isinf(values).any(), f"{spec.name} on {asof.t.date()} has infinite values"
        if spec.unit in ("flag", "rate"):
            known = values[~np.isnan(values)]
            assert ((known >= 0) & (known <= 1)).all(), f"{spec.name} outside 0-1"
        if spec.unit in ("count", "days", "months", "years"):
            assert (values[~np.isnan(values)] >= 0).all(), f"{spec.name} negative"


def test_build_snapshot_keeps_protected_characteristics_out_of_the_features(records, snapshot):
    frame = build_snapshot(records, snapshot)
    assert list(frame.columns) == [*KEY_COLUMNS, *AUDIT_COLUMNS, *REGISTRY]
    feature_columns = [c for c in frame.columns if c not in KEY_COLUMNS + AUDIT_COLUMNS]
    for column in feature_columns:
        assert not PROTECTED.search(column.replace("_", " ")), column
        assert column not in ("sex", "ethnicity", "send", "area", "religion", "gender")
        assert frame[column].dtype == float
    assert {"sex", "ethnicity", "send", "area"} <= set(frame.columns)
    assert frame["child_id"].is_unique
    assert (frame["snapshot_date"] == snapshot).all()
    assert set(frame["send"]) <= {"none", "sen_support", "ehcp", "unknown"}
    assert frame[["sex", "ethnicity", "area"]].notna().all().all()


def test_build_snapshot_with_a_selected_registry(records, snapshot):
    chosen = REGISTRY.select(["neet_now", "suspect_12m"])
    frame = build_snapshot(records, snapshot, chosen)
    assert list(frame.columns) == [*KEY_COLUMNS, *AUDIT_COLUMNS, "neet_now", "suspect_12m"]
    full = build_snapshot(records, snapshot)
    pd.testing.assert_frame_equal(frame, full[list(frame.columns)])


def test_build_snapshot_refuses_a_feature_of_the_wrong_shape(records, snapshot):
    @feature(**POLICE)
    def one_value(asof):
        """Police records in the last 12 months."""
        return np.zeros(1)

    bad = Registry(
        [
            FeatureSpec(
                "one_value", "Police records.", "police", "12 months", "count", False, one_value
            )
        ]
    )
    with pytest.raises(ValueError, match="one_value returned shape"):
        build_snapshot(records, snapshot, bad)
