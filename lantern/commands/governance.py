"""``lantern record``: a model version's algorithmic transparency record (ATRS); ``lantern
overview``: the partnership overview of who each champion flags, by group and over time."""

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
    from governance.transparency import (
        gather_transparency_record,
        log_transparency_record,
        render_markdown,
    )
    from models.tracking import TrackingSettings

    facts = load_partnership_or_exit(partnership)
    settings = TrackingSettings()
    build = log_transparency_record if log else gather_transparency_record
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


def overview(
    features: Annotated[
        Path, typer.Option(help="The feature table (`lantern features`), Parquet or CSV.")
    ],
    out: Annotated[
        Path, typer.Option(help="Write the overview page (self-contained HTML) here.")
    ] = Path("overview.html"),
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the overview as JSON here.")
    ] = None,
    capacity: Annotated[
        float | None,
        typer.Option(
            help="Each team's capacity: a share (< 1) or a number of children (default: the "
            "share each champion was trained and audited at)."
        ),
    ] = None,
    quarters: Annotated[int, typer.Option(help="Trend window, in quarters.")] = 8,
) -> None:
    """Write the partnership overview: who each champion flags, by area, age band, sex,
    ethnicity and SEND, over the last quarters, with what needs a query highlighted.

    Every snapshot of the feature table is scored by each model's champion; its latest
    fairness audit is read from MLflow. Small cells are suppressed.
    """
    from fairness.page import write_whole
    from features.outcomes import load_outcomes
    from governance.overview_report import render_overview_html, render_overview_json
    from governance.overview_store import overview_for_partnership
    from models.tracking import TrackingSettings

    settings = TrackingSettings()
    try:
        found = overview_for_partnership(
            features,
            settings,
            capacities=None if capacity is None else dict.fromkeys(load_outcomes(), capacity),
            quarters=quarters,
        )
    except FileNotFoundError as err:
        console.print(f"[red]{err}[/]", soft_wrap=True)
        raise typer.Exit(code=2) from None
    except (LookupError, ValueError) as err:
        console.print(f"[red]{err}[/]", soft_wrap=True)
        raise typer.Exit(code=1) from None
    write_whole(out, render_overview_html(found))
    typer.echo(f"wrote {out}", err=True)
    if json_out:
        write_whole(json_out, render_overview_json(found))
        typer.echo(f"wrote {json_out}", err=True)
    alerts = found.highlights[found.highlights["alert"]]
    for note in found.notes:
        console.print(note, soft_wrap=True)
    console.print(f"{len(alerts)} alert(s) need a query; see 'What needs a query' in {out}.")
