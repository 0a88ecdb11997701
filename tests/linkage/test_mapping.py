"""Reading an agency's extract with a mapping: what it gives, and how it says what is wrong."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from linkage.ingest import ingest
from linkage.mapping import load_mapping, load_mappings

POLICE = """
source: police
follows: a plain documented format (test)
files:
  - name: involvements
    record_id: PersonURN
    table: police
    dated_by: date
    identity:
      forename: Forename
      dob: {column: DateOfBirth, date: "%d/%m/%Y"}
      sex: {column: Sex, codes: {M: M, F: F}}
    fields:
      date: {column: IncidentDate, date: "%d/%m/%Y"}
      role: {column: Role, codes: {V: victim, S: suspect, MP: missing_person, SS: stop_search}}
      offence_group: {column: Offence, codes: {NONE: none, VWI: violence_with_injury}, empty: none}
      serious_violence: {column: SV, codes: {Y: true, N: false}}
      knife: {column: Knife, codes: {Y: true, N: false}, empty: false}
"""

ROWS = [
    # PersonURN, Forename, DateOfBirth, Sex, IncidentDate, Role, Offence, SV, Knife
    ["N1", "Ada", "03/04/2011", "F", "01/02/2025", "V", "VWI", "Y", "N"],
    ["N1", "Ada", "03/04/2011", "F", "05/06/2025", "MP", "", "N", ""],
    ["N2", "Ben", "30/12/2010", "M", "07/07/2025", "S", "NONE", "N", "Y"],
]
COLUMNS = [
    "PersonURN",
    "Forename",
    "DateOfBirth",
    "Sex",
    "IncidentDate",
    "Role",
    "Offence",
    "SV",
    "Knife",
]


def _raw(tmp_path: Path, rows=ROWS, mapping: str = POLICE) -> tuple[Path, Path]:
    raw, maps = tmp_path / "raw", tmp_path / "maps"
    (raw / "police").mkdir(parents=True)
    maps.mkdir()
    pd.DataFrame(rows, columns=COLUMNS).to_csv(raw / "police" / "involvements.csv", index=False)
    (maps / "police.yaml").write_text(mapping)
    return raw, maps


def test_a_mapping_turns_rows_into_contract_rows_and_person_records(tmp_path):
    raw, maps = _raw(tmp_path)
    got = ingest(raw, load_mappings(maps))
    assert got.problems == [] and got.dropped == []
    police = got.tables["police"]
    assert list(police.columns) == [
        "source",
        "source_record_id",
        "date",
        "role",
        "offence_group",
        "serious_violence",
        "knife",
    ]
    assert police["role"].tolist() == ["victim", "missing_person", "suspect"]
    assert police["offence_group"].tolist() == ["violence_with_injury", "none", "none"]
    assert police["serious_violence"].tolist() == [True, False, False]
    assert police["knife"].tolist() == [False, False, True]
    assert police["date"].tolist() == [
        pd.Timestamp(d) for d in ("2025-02-01", "2025-06-05", "2025-07-07")
    ]
    people = got.people.set_index("source_record_id")
    assert people.loc["N2", "dob"] == pd.Timestamp("2010-12-30")
    assert people.loc["N1", "last_seen"] == pd.Timestamp("2025-06-05")
    assert people.loc["N1", "sex"] == "F"


def test_an_unmapped_code_and_an_unreadable_date_are_reported_with_rows_and_what_to_do(tmp_path):
    rows = [r.copy() for r in ROWS]
    rows[1][5] = "WITNESS"
    rows[2][4] = "2025-07-07"
    raw, maps = _raw(tmp_path, rows)
    problems = ingest(raw, load_mappings(maps)).problems
    by_column = {p.column: p for p in problems}
    assert set(by_column) == {"Role", "IncidentDate"}
    role = by_column["Role"]
    assert role.table == "police/involvements.csv" and role.rows == (2,)
    assert "'WITNESS'" in role.message and "Add them to the codes of role" in role.action
    date = by_column["IncidentDate"]
    assert date.rows == (3,) and "'2025-07-07'" in date.message and "%d/%m/%Y" in date.message


def test_a_missing_column_a_missing_file_and_an_unmapped_agency_are_each_reported(tmp_path):
    raw, maps = _raw(tmp_path)
    frame = pd.read_csv(raw / "police" / "involvements.csv").drop(columns="Knife")
    frame.to_csv(raw / "police" / "involvements.csv", index=False)
    (raw / "health").mkdir()
    problems = ingest(raw, load_mappings(maps)).problems
    said = {(p.table, p.column): p.message for p in problems}
    assert said[("police/involvements.csv", "Knife")] == "the file has no such column"
    assert said[("health", None)] == "this agency's folder has no mapping"
    (raw / "police" / "involvements.csv").unlink()
    problems = ingest(raw, load_mappings(maps)).problems
    assert any(
        p.table == "police/involvements.csv" and "no such file" in p.message for p in problems
    )


def test_rows_without_a_person_reference_are_left_out_and_said(tmp_path):
    rows = [r.copy() for r in ROWS]
    rows[0][0] = ""
    raw, maps = _raw(tmp_path, rows)
    got = ingest(raw, load_mappings(maps))
    assert got.problems == []
    assert len(got.tables["police"]) == 2
    (dropped,) = got.dropped
    assert dropped.rows == (1,) and dropped.column == "PersonURN"


@pytest.mark.parametrize(
    "change, said",
    [
        (lambda m: m["files"][0]["fields"].pop("knife"), "no reading for knife"),
        (lambda m: m["files"][0]["fields"].update(colour="Colour"), "colour not in police"),
        (lambda m: m["files"][0].update(table="arrests"), "'arrests' is not a table"),
        (lambda m: m["files"][0]["identity"].update(shoe="Shoe"), "unknown identity fields shoe"),
    ],
)
def test_a_mapping_that_does_not_fit_the_contract_is_refused_naming_the_file(
    tmp_path, change, said
):
    mapping = yaml.safe_load(POLICE)
    change(mapping)
    path = tmp_path / "police.yaml"
    path.write_text(yaml.safe_dump(mapping))
    with pytest.raises(ValueError) as err:
        load_mapping(path)
    assert said in str(err.value) and str(path) in str(err.value)
    assert "Correct the mapping" in str(err.value)


def test_the_package_mappings_load_and_cover_every_agency():
    sources = {m.source for m in load_mappings()}
    assert sources == {"school", "social_care", "police", "health", "youth_justice", "careers"}
    for mapping in load_mappings():
        assert mapping.follows.strip()
