"""Generate the data contract's documentation (``docs/data-contract.md``) from the schemas."""

from __future__ import annotations

import pandera.pandas as pa

from features.contract.extracts import EXTRACTS_SUBFOLDER
from features.contract.schemas import (
    KINDS,
    OPTIONAL_TABLES,
    RULES,
    SCHEMAS,
    TABLES,
)
from features.contract.validation import CROSS_TABLE_RULES, ID_COLUMNS, MAX_AGE, MIN_AGE

_HEADER = """\
# Data contract

<!-- Generated from features/contract/schemas.py by `make docs`; do not edit by hand. -->

Lantern reads a partnership's raw extracts: one table per source, linked by a pseudonymised
`child_id`. Loading any table checks it against this contract; every problem found is reported
with its table, column and rows, what is wrong and what to do, and nothing is loaded until
there are none.

## Files

- One folder holds one file per table, named `<table>.parquet` or `<table>.csv` (not both).
  If the folder has a subfolder `{subfolder}/`, the files are read from there.
- CSV files are UTF-8 text with a header line. An empty cell is a missing value. Dates are
  written `YYYY-MM-DD`, `birth_month` as `YYYY-MM`, flags as `true` or `false`.
- Parquet files may hold dates as dates or as `YYYY-MM-DD` text, and `birth_month` as `YYYY-MM`
  text or as the first day of the month.
- Columns not named here are ignored, and dropped on loading. A table may have no rows.
- Row numbers in problems count data rows from 1: row 1 is the first row below a CSV header.

## Marks

- **protected**: a protected characteristic, kept beside the data for auditing only. It is
  never a model feature.
- **sensitive**: a feature only where a feature set's config says so, with a written
  justification that flows into the model card.
"""


def render_contract_markdown() -> str:
    """Render the data contract as Markdown, from :data:`SCHEMAS`.

    Returns
    -------
    str
        The text of ``docs/data-contract.md``.
    """
    parts = [_HEADER.format(subfolder=EXTRACTS_SUBFOLDER), "## Tables\n"]
    parts += [_table_section(name) for name in TABLES]
    parts.append(_cross_table_section())
    return "\n".join(parts)


def _table_section(name: str) -> str:
    schema = SCHEMAS[name]
    need = "optional" if name in OPTIONAL_TABLES else "required"
    lines = [
        f"### `{name}` ({need})",
        "",
        schema.description,
        "",
        "| column | type in a file | in memory | allowed values or check | nullable | marks "
        "| description |",
        "|---|---|---|---|---|---|---|",
    ]
    for column, col in schema.columns.items():
        kind = KINDS[col.metadata["kind"]]
        cells = [
            f"`{column}`",
            kind.file_format,
            f"`{kind.memory}`",
            _checks_text(name, schema, column, col),
            "yes" if col.nullable else "no",
            _marks(col),
            col.metadata["description"],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _checks_text(name: str, schema: pa.DataFrameSchema, column: str, col: pa.Column) -> str:
    texts = [_check_text(check) for check in col.checks]
    texts += [RULES[c.name].description for c in schema.checks if RULES[c.name].column == column]
    if col.unique:
        texts.append("unique")
    if schema.unique and column == schema.unique[-1]:
        texts.append(f"one row per {' and '.join(f'`{f}`' for f in schema.unique)}")
    if name != "children" and column in ID_COLUMNS:
        texts.append("a `child_id` in `children`")
    if col.metadata["kind"] in ("date", "month"):
        if name == "children":
            texts.append(f"age {MIN_AGE}-{MAX_AGE} today")
        else:
            texts.append("not after today, not before the child's `birth_month`")
    return "; ".join(texts) if texts else "-"


def _check_text(check: pa.Check) -> str:
    stats = check.statistics or {}
    if check.name == "isin":
        return "one of " + ", ".join(f"`{v}`" for v in stats["allowed_values"])
    if check.name == "greater_than_or_equal_to":
        return f">= {stats['min_value']}"
    if check.name == "str_length":
        return "not empty"
    if check.name in RULES:
        return RULES[check.name].description
    return check.description or str(check.name)


def _marks(col: pa.Column) -> str:
    marks = [m for m in ("protected", "sensitive") if col.metadata.get(m)]
    return ", ".join(f"**{m}**" for m in marks) if marks else "-"


def _cross_table_section() -> str:
    lines = ["## Checks across tables", ""]
    lines += [f"- {rule}" for rule in CROSS_TABLE_RULES]
    lines.append(
        "\nChecks across tables run when `children` itself could be read; checks against "
        "today's date use the day of validation unless another day is given."
    )
    return "\n".join(lines) + "\n"
