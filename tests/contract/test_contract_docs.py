"""docs/data-contract.md is generated from the schemas and kept up to date."""

from __future__ import annotations

from pathlib import Path

from features.contract import SCHEMAS, vocabulary
from features.contract.docs import render_contract_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-contract.md"


def test_committed_doc_matches_the_schemas():
    rendered = render_contract_markdown()
    committed = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    assert committed == rendered, (
        "docs/data-contract.md is out of date with features/contract/schemas.py: "
        "run `make docs` and commit the result."
    )


def test_doc_covers_every_table_column_and_value():
    text = render_contract_markdown()
    for name, schema in SCHEMAS.items():
        assert f"### `{name}`" in text
        assert schema.description in text
        for column in schema.columns:
            assert f"| `{column}` |" in text
    for value in vocabulary.OFFENCE_GROUP + vocabulary.ETHNICITY:
        assert f"`{value}`" in text


def test_doc_marks_protected_and_sensitive_columns():
    lines = render_contract_markdown().splitlines()
    row = {line.split("|")[1].strip(): line for line in lines if line.startswith("| `")}
    assert "**protected**" in row["`ethnicity`"] and "**protected**" in row["`sex`"]
    assert "**sensitive**" in row["`sen_status`"]
    assert "**protected**" not in row["`area`"]


def test_doc_is_deterministic():
    assert render_contract_markdown() == render_contract_markdown()
