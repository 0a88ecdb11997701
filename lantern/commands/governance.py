"""``lantern record``: a model version's algorithmic transparency record (ATRS)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from lantern.commands import make_console

console = make_console()

PartnershipOption = Annotated[
    Path | None,
    typer.Option(
        help="The partnership's facts (owners, contact, impact assessments) as YAML; default "
        "partnership.yaml here if present. See governance/partnership.example.yaml.",
    ),
]


class RecordFormat(StrEnum):
    markdown = "markdown"
    json = "json"


def load_partnership_or_exit(path: Path | None):
    """The partnership's settings, or a red message and exit code 2 when the file is wrong."""
    from governance.partnership import load_partnership

    try:
        return load_partnership(path)
    except (FileNotFoundError, ValueError) as err:
        console.print(f"[red]{err}[/]", soft_wrap=True)
        raise typer.Exit(code=2) from None


def record(
    model: Annotated[
        str, typer.Option(help="The registered model: exclusion_neet or serious_violence.")
    ],
    version: Annotated[
        str | None, typer.Option(help="The model version (default: the champion).")
    ] = None,
    format: Annotated[
        RecordFormat, typer.Option("--format", help="Markdown for people, or JSON.")
    ] = RecordFormat.markdown,
    out: Annotated[
        Path | None, typer.Option(help="Write the record to this file instead of printing it.")
    ] = None,
    log: Annotated[
        bool, typer.Option("--log", help="Also log it to the version's MLflow run (record/).")
    ] = False,
    partnership: PartnershipOption = None,
) -> None:
    """Print a model version's transparency record (UK ATRS v3.0: Tier 1 and Tier 2).

    Built from the version's model card, fairness audit, metrics and datasheet, the feature
    registry and the partnership file. What the partnership has not supplied is shown as
    "Not supplied by the partnership", with what to add and where.
    """
    from governance.record import gather_record, log_record, render_markdown
    from training.tracking import TrackingSettings

    facts = load_partnership_or_exit(partnership)
    settings = TrackingSettings()
    build = log_record if log else gather_record
    try:
        found = build(model, version, settings, facts)
    except (LookupError, ValueError) as err:
        console.print(f"[red]{err}[/]", soft_wrap=True)
        raise typer.Exit(code=1) from None
    text = (
        json.dumps(found, indent=2, default=str)
        if format == RecordFormat.json
        else render_markdown(found)
    )
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        typer.echo(f"wrote {out}", err=True)
    else:
        typer.echo(text)
    if log:
        run_id = found["model"]["run_id"]
        typer.echo(f"logged record/record.md and record/record.json to run {run_id}", err=True)
