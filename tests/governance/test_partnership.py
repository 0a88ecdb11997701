"""The partnership file: loaded explicitly, every field optional, errors that say what to do."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from governance.partnership import (
    DEFAULT_FILE,
    EXAMPLE_FILE,
    NOT_SUPPLIED,
    PartnershipSettings,
    load_partnership,
    not_supplied,
    supplied,
)


def test_without_a_file_nothing_is_supplied(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_partnership() == PartnershipSettings()
    assert all(v is None for v in PartnershipSettings().model_dump().values())


def test_the_default_file_in_the_working_directory_is_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / DEFAULT_FILE).write_text("contact_email: team@council.example\n")
    assert load_partnership().contact_email == "team@council.example"


def test_the_example_is_complete_and_clearly_fictional():
    facts = load_partnership(EXAMPLE_FILE)
    raw = yaml.safe_load(EXAMPLE_FILE.read_text())
    assert set(raw) == set(PartnershipSettings.model_fields), "the example shows every field"
    assert isinstance(facts.dpia_date, date)
    assert "fictional" in facts.name.lower()
    assert facts.contact_email.endswith(".example") and facts.website.startswith("https://")
    for field in ("dpia_reference", "equality_impact_assessment_reference"):
        assert "EXAMPLE" in getattr(facts, field)


def test_a_missing_field_says_what_to_add_and_where():
    text = supplied(PartnershipSettings(), "dpia_reference")
    assert text == not_supplied("dpia_reference")
    assert text.startswith(f"{NOT_SUPPLIED}: add `dpia_reference`")
    assert "data protection impact assessment" in text
    assert DEFAULT_FILE in text and EXAMPLE_FILE.name in text


def test_a_blank_value_is_not_supplied(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("owner_team: '  '\n")
    assert load_partnership(path).owner_team is None


def test_an_empty_file_supplies_nothing(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("# nothing yet\n")
    assert load_partnership(path) == PartnershipSettings()


def test_a_named_file_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"does not exist; copy governance/partnership"):
        load_partnership(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("owner: someone\n", r"invalid fields: owner: Extra inputs are not permitted"),
        ("contact_email: not an email\n", r"contact_email: .*is not an email address"),
        ("phase: live\n", r"phase: Input should be 'pre-deployment'"),
        ("dpia_date: last spring\n", r"dpia_date: .*date"),
        ("- a list\n", r"must be a mapping of fields"),
        ("name: [unclosed\n", r"is not valid YAML"),
    ],
)
def test_a_bad_file_names_the_file_and_the_field(tmp_path, text, expected):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=expected) as err:
        load_partnership(path)
    assert str(path) in str(err.value)
