"""The synthetic raw agency extracts (``linkage.synth.raw``) against the contract tables they
are made from and the YAML mappings that read them back (``linkage/mappings``)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from linkage.synth.config import load_names, load_noise
from linkage.synth.noise import agency_records
from linkage.synth.partnership import HOLDERS
from linkage.synth.people import make_people, postcode_lookup
from linkage.synth.raw import raw_extracts, write_raw

MAPPINGS = Path(__file__).resolve().parents[2] / "linkage" / "mappings"

SOURCE_TABLES = HOLDERS

SPEC_COLUMNS = {
    "school": {
        "census_pupils": [
            "PupilRef", "UPN", "Surname", "Forename", "DOB", "Sex", "Ethnicity", "Postcode",
            "CensusDate", "LAEstab", "EnrolStatus", "FSMstartDate", "FSMendDate",
            "SENprovision", "TermlySessionsPossible", "TermlySessionsAuthorised",
            "TermlySessionsUnauthorised", "APPlacement", "EHE",
        ],
        "exclusions": [
            "PupilRef", "UPN", "Surname", "Forename", "DOB", "Sex", "Category", "StartDate",
            "Reason", "Sessions",
        ],
        "siblings": ["PupilRef", "SiblingPupilRef"],
    },
    "social_care": {
        "cin_children": [
            "LAchildID", "UPN", "Forename", "Surname", "PersonBirthDate", "GenderCurrent",
            "Ethnicity", "PostCode",
        ],
        "cin_episodes": [
            "LAchildID", "CINreferralDate", "CINclosureDate", "PrimaryNeedCode",
            "AssessmentFactors",
        ],
        "child_protection_plans": [
            "LAchildID", "CPPstartDate", "CPPendDate", "PrimaryNeedCode", "AssessmentFactors",
        ],
        "early_help": [
            "LAchildID", "EHAStartDate", "EHAEndDate", "PrimaryNeedCode", "AssessmentFactors",
        ],
        "ssda903_header": ["CHILD", "SEX", "DOB", "ETHNIC", "UPN", "Forename", "Surname"],
        "ssda903_episodes": ["CHILD", "DECOM", "DEC", "RNE", "LS", "CIN", "PL", "HOME_POST"],
    },
    "police": {
        "involvements": [
            "PersonURN", "Forename", "Surname", "DateOfBirth", "Sex", "Postcode",
            "IncidentDate", "Role", "OffenceGroup", "SeriousViolence", "Knife",
        ],
        "associates": ["PersonURN", "AssociateURN"],
    },
    "health": {
        "ecds_attendances": [
            "LocalPatientId", "NHS_NUMBER", "NHS_NUMBER_STATUS_INDICATOR_CODE",
            "PERSON_GIVEN_NAME", "PERSON_FAMILY_NAME", "PERSON_BIRTH_DATE",
            "PERSON_STATED_GENDER_CODE", "ETHNIC_CATEGORY", "POSTCODE_USUAL_ADDRESS",
            "EMERGENCY_CARE_ARRIVAL_DATE", "INJURY_INTENT",
        ],
        "mhsds_referrals": [
            "LocalPatientId", "NHSNumber", "GivenName", "FamilyName", "PersonBirthDate",
            "Gender", "EthnicCategory", "Postcode", "ReferralRequestReceivedDate",
        ],
    },
    "youth_justice": {
        "outcomes": [
            "YJCaseId", "UPN", "Forename", "Surname", "DateOfBirth", "Sex", "Ethnicity",
            "Postcode", "OutcomeDate", "Outcome",
        ],
    },
    "careers": {
        "nccis": [
            "YoungPersonsID", "UniquePupilNumber", "GivenName", "FamilyName", "DOB", "Gender",
            "Ethnicity", "Postcode", "ReportingMonth", "ActivityCode",
        ],
    },
}  # fmt: skip

# Each event file: its contract table, the rows of it (kind/setting), and its date columns.
EVENT_FILES = {
    ("school", "census_pupils"): ("school_census", None, "term_start", "CensusDate", "%Y-%m-%d"),
    ("school", "exclusions"): ("exclusions", None, "date", "StartDate", "%Y-%m-%d"),
    ("social_care", "cin_episodes"): ("social_care", ("kind", "cin"), "start", "CINreferralDate", "%Y-%m-%d"),
    ("social_care", "child_protection_plans"): ("social_care", ("kind", "cp"), "start", "CPPstartDate", "%Y-%m-%d"),
    ("social_care", "early_help"): ("social_care", ("kind", "early_help"), "start", "EHAStartDate", "%Y-%m-%d"),
    ("social_care", "ssda903_episodes"): ("social_care", ("kind", "cla"), "start", "DECOM", "%d/%m/%Y"),
    ("police", "involvements"): ("police", None, "date", "IncidentDate", "%Y-%m-%d"),
    ("health", "ecds_attendances"): ("health", ("setting", "emergency_department"), "date", "EMERGENCY_CARE_ARRIVAL_DATE", "%Y-%m-%d"),
    ("health", "mhsds_referrals"): ("health", ("setting", "camhs_referral"), "date", "ReferralRequestReceivedDate", "%Y-%m-%d"),
    ("youth_justice", "outcomes"): ("youth_justice", None, "date", "OutcomeDate", "%Y-%m-%d"),
    ("careers", "nccis"): ("education_status", None, "month", "ReportingMonth", "%Y-%m"),
}  # fmt: skip


@pytest.fixture(scope="module")
def made(small_partnership) -> SimpleNamespace:
    """The small partnership's agency records and raw extracts."""
    tables = small_partnership.tables
    rng = np.random.default_rng(7)
    names = load_names().model_copy(update={"pool_size": 200})
    family = small_partnership.hidden.set_index("child_id")["family"]
    people = make_people(tables["children"], family, names, rng)
    holders = {
        source: np.concatenate([tables[t]["child_id"].to_numpy() for t in names_])
        for source, names_ in SOURCE_TABLES.items()
    }
    noise = load_noise()
    for agency in noise.agencies.values():
        agency.duplicate = 0.05  # more children held twice than usual, to test them
    lookup = postcode_lookup(people)
    records = agency_records(people, holders, noise, names, lookup["postcode"].tolist(), rng)
    raw = raw_extracts(tables, records, rng)
    return SimpleNamespace(tables=tables, records=records, raw=raw, lookup=lookup)


def mapping(source: str) -> dict:
    return yaml.safe_load((MAPPINGS / f"{source}.yaml").read_text())


def child_of(made, source: str) -> dict[str, str]:
    held = made.records[made.records["source"] == source]
    return dict(zip(held["source_record_id"], held["child_id"], strict=True))


def contract_rows(made, table: str, subset) -> pd.DataFrame:
    rows = made.tables[table]
    if subset:
        rows = rows[rows[subset[0]] == subset[1]]
    return rows.reset_index(drop=True)


def test_every_file_has_its_spec_columns_as_text(made):
    assert {s: list(files) for s, files in made.raw.items()} == {
        s: list(files) for s, files in SPEC_COLUMNS.items()
    }
    for source, files in made.raw.items():
        for name, frame in files.items():
            assert list(frame.columns) == SPEC_COLUMNS[source][name], (source, name)
            assert not frame.isna().any().any(), (source, name)
            values = set(frame.to_numpy().ravel())
            assert not values & {"nan", "NaN", "NaT", "<NA>"}, (source, name)
            identity = frame.drop(columns=["OffenceGroup"], errors="ignore")  # "None": a group
            assert "None" not in set(identity.to_numpy().ravel()), (source, name)


def test_every_event_row_is_in_one_raw_file_once(made):
    for (source, name), (table, subset, date, raw_date, fmt) in EVENT_FILES.items():
        rows = contract_rows(made, table, subset)
        frame = made.raw[source][name]
        assert len(frame) == len(rows), (source, name)
        owner = child_of(made, source)
        record_id = frame.columns[0]
        got = sorted(zip(frame[record_id].map(owner), frame[raw_date], strict=True))
        want = sorted(zip(rows["child_id"], rows[date].dt.strftime(fmt), strict=True))
        assert got == want, (source, name)
    kinds = made.tables["social_care"]["kind"].value_counts()
    files = {"cin": "cin_episodes", "cp": "child_protection_plans", "early_help": "early_help"}
    for kind, name in {**files, "cla": "ssda903_episodes"}.items():
        assert len(made.raw["social_care"][name]) == kinds.get(kind, 0)


def test_both_records_of_a_child_held_twice_are_used(made):
    held = made.records[made.records["source"] == "school"]
    twice = held.loc[held["child_id"].duplicated(keep=False)]
    census = made.raw["school"]["census_pupils"]
    used = census.loc[census["PupilRef"].isin(set(twice["source_record_id"])), "PupilRef"]
    per_child = used.groupby(used.map(child_of(made, "school"))).nunique()
    assert (per_child == 2).sum() >= len(per_child) // 2


def test_the_la_shares_one_reference_and_identity_across_cin_and_ssda903(made):
    files = made.raw["social_care"]
    children = files["cin_children"].set_index("LAchildID")
    header = files["ssda903_header"].set_index("CHILD")
    assert set(files["ssda903_episodes"]["CHILD"]) == set(header.index)
    assert set(header.index) <= set(children.index)
    assert (header["ETHNIC"] == children.loc[header.index, "Ethnicity"]).all()
    assert (header["UPN"] == children.loc[header.index, "UPN"]).all()
    for name in ("cin_episodes", "child_protection_plans", "early_help"):
        assert set(files[name]["LAchildID"]) <= set(children.index)


def test_no_raw_value_is_a_child_id(made):
    child_ids = set(made.tables["children"]["child_id"])
    for files in made.raw.values():
        for frame in files.values():
            assert not set(frame.to_numpy().ravel()) & child_ids


def test_identity_fields_are_the_records_own(made):
    for source, files in made.raw.items():
        held = made.records[made.records["source"] == source].set_index("source_record_id")
        for spec in mapping(source)["files"]:
            frame = files[spec["name"]]
            record = held.loc[frame[spec["record_id"]]]
            for field, how in spec.get("identity", {}).items():
                if field == "ethnicity":
                    got = frame[how["column"]].map(how["codes"])
                    assert (got.to_numpy() == record["ethnicity"].to_numpy()).all()
                    continue
                column = how if isinstance(how, str) else how["column"]
                want = record[field]
                if field == "dob":
                    want = want.dt.strftime(how["date"])
                elif field == "sex":
                    back = {raw: sex for raw, sex in how["codes"].items()}
                    got = frame[column].map(back)
                    assert (got.to_numpy() == want.to_numpy()).all(), (source, field)
                    continue
                want = want.astype(object).where(want.notna(), "")
                assert (frame[column].to_numpy() == want.to_numpy()).all(), (source, field)


def code_fields(spec: dict):
    """Each ``{column, codes}`` rule of a file's mapping (with those inside ``first_of``)."""
    for section in ("identity", "fields"):
        for field, how in spec.get(section, {}).items():
            rules = how.get("first_of", [how]) if isinstance(how, dict) else []
            for rule in rules:
                if "codes" in rule:
                    yield section, field, rule


def test_every_raw_code_is_listed_in_its_mapping(made):
    checked = set()
    for source, files in made.raw.items():
        for spec in mapping(source)["files"]:
            frame = files[spec["name"]]
            for _, field, rule in code_fields(spec):
                values = set(frame[rule["column"]]) - {""}
                if rule.get("others") == "skip":
                    continue
                unlisted = values - set(rule["codes"])
                assert not unlisted, (source, spec["name"], field, sorted(unlisted))
                checked.add((spec["name"], rule["column"]))
    assert {("exclusions", "Reason"), ("nccis", "ActivityCode")} <= checked


def test_mappings_name_only_columns_their_files_have(made):
    for source, files in made.raw.items():
        doc = mapping(source)
        assert doc["source"] == source
        assert {spec["name"] for spec in doc["files"]} == set(files)
        for spec in doc["files"]:
            columns = set(files[spec["name"]].columns)
            named = {spec["record_id"]}
            for section in ("identity", "fields"):
                for how in spec.get(section, {}).values():
                    named |= _columns(how)
            assert named <= columns, (source, spec["name"], sorted(named - columns))
            if "table" in spec:
                contract = set(made.tables[spec["table"]].columns) - {"child_id"}
                assert set(spec["fields"]) == contract, (source, spec["name"])


def _columns(how) -> set[str]:
    if isinstance(how, str):
        return {how}
    found = set()
    for key in ("column", "on"):
        if key in how:
            found.add(how[key])
    for key in ("sum", "open_period"):
        found |= set(how.get(key, []))
    for rule in how.get("first_of", []):
        found |= _columns(rule)
    return found


def test_codes_read_back_as_the_contract_values(made):
    """Every plain coded field decodes to the contract column it came from (SSDA903's CIN
    excepted: it cannot hold an assessment factor)."""
    for (source, name), (table, subset, *_) in EVENT_FILES.items():
        spec = next(s for s in mapping(source)["files"] if s["name"] == name)
        rows, frame = contract_rows(made, table, subset), made.raw[source][name]
        for section, field, rule in code_fields(spec):
            if section != "fields" or "first_of" in spec["fields"][field]:
                continue
            got = frame[rule["column"]].map(lambda v, r=rule: r["codes"].get(v, r.get("empty")))
            if (name, field) == ("ssda903_episodes", "category"):
                lossy = rows[field].isin(
                    ["domestic_abuse", "child_mental_health", "extra_familial_harm"]
                )
                got, rows = got[~lossy.to_numpy()], rows[~lossy]
            assert (got.to_numpy() == rows[field].to_numpy()).all(), (source, name, field)


def test_write_raw_replaces_the_folder_whole(made, tmp_path):
    out = tmp_path / "raw"
    out.mkdir()
    (out / "stale.csv").write_text("x\n")
    assert write_raw(made.raw, made.lookup, out) == out
    assert not (out / "stale.csv").exists()
    assert not (tmp_path / ".raw.partial").exists()
    census = pd.read_csv(out / "school" / "census_pupils.csv", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(census, made.raw["school"]["census_pupils"])
    lookup = pd.read_csv(out / "reference" / "postcodes.csv", dtype=str)
    assert list(lookup.columns) == ["postcode", "area"] and len(lookup) == len(made.lookup)

    class Broken:
        def to_csv(self, *args, **kwargs):
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_raw({"school": {"census_pupils": Broken()}}, made.lookup, out)
    assert (out / "school" / "census_pupils.csv").exists()
    assert not (tmp_path / ".raw.partial").exists()


def test_a_child_with_events_but_no_record_is_refused(made):
    records = made.records[
        (made.records["source"] != "police")
        | (made.records["child_id"] != made.tables["police"]["child_id"].iloc[0])
    ]
    with pytest.raises(ValueError, match="no record of 1 children"):
        raw_extracts(made.tables, records, np.random.default_rng(0))


@pytest.mark.parametrize(
    "source, name, kind, first, second",
    [
        ("school", "siblings", "sibling", "PupilRef", "SiblingPupilRef"),
        ("police", "associates", "peer", "PersonURN", "AssociateURN"),
    ],
)
def test_an_agency_holds_the_relationships_between_two_people_it_both_holds(
    made, source, name, kind, first, second
):
    """Every such link of the contract appears once per direction under the two records."""
    child = child_of(made, source)
    rows = made.raw[source][name]
    got = set(zip(rows[first].map(child), rows[second].map(child), strict=True))
    held = set(child.values())
    links = made.tables["relationships"]
    links = links[
        (links["relationship"] == kind)
        & links["child_id"].isin(held)
        & links["related_child_id"].isin(held)
    ]
    assert got == set(zip(links["child_id"], links["related_child_id"], strict=True))
    assert len(rows) == len(links) > 0
