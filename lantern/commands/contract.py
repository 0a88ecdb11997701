"""``lantern validate`` and ``lantern contract``: the data contract on the command line.

pandas and pandera are imported when a command runs, so that ``lantern --help`` stays quick.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from lantern.commands import make_console

if TYPE_CHECKING:
    from features.contract import Problem


def validate(
    path: Annotated[
        Path,
        typer.Argument(
            help="Folder of extracts: <table>.parquet or <table>.csv files, or a folder "
            "holding them in a subfolder named extracts.",
            show_default=False,
        ),
    ],
    today: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="Judge dates against this day (YYYY-MM-DD) instead of today, e.g. for an "
            "extract taken in the past.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check a folder of raw extracts against the data contract.

    Reports every problem: its table, column and rows, what is wrong and what to do.

    Exits with status 0 if the extracts are valid and 1 if not. See `lantern contract`.
    """
    from features.contract import ContractError, load_extracts

    console = _console()
    try:
        extracts = load_extracts(path, today=today.date() if today else None)
    except ContractError as err:
        console.print(_problem_table(err.problems))
        noun = "problem" if len(err.problems) == 1 else "problems"
        console.print(Text(f"invalid: {len(err.problems)} {noun} in {path}", style="bold red"))
        raise typer.Exit(code=1) from None
    tables = extracts.tables()
    rows = sum(len(frame) for frame in tables.values())
    console.print(Text(f"valid: {len(tables)} tables, {rows} rows", style="bold green"))


def contract(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Write the Markdown to this file (e.g. docs/data-contract.md) instead of "
            "printing it.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Show the data contract as Markdown: every table, column, type and check.

    Generated from the schemas that `lantern validate` applies, so the two always agree.
    """
    from features.contract.docs import render_contract_markdown

    text = render_contract_markdown()
    if out is None:
        typer.echo(text, nl=False)
        return
    _write_atomically(out, text)
    typer.echo(f"wrote {out}")


def _console() -> Console:
    return make_console()


def _problem_table(problems: list[Problem]) -> Table:
    from features.contract import describe_rows

    table = Table(title="Problems in the extracts", show_lines=True, title_justify="left")
    for header, style in [
        ("table", "bold"),
        ("column", "bold"),
        ("rows", None),
        ("what is wrong", "red"),
        ("what to do", None),
    ]:
        table.add_column(header, style=style, overflow="fold")
    for p in problems:
        table.add_row(
            Text(p.table or "-"),
            Text(p.column or "-"),
            Text(describe_rows(p.rows) or "-"),
            Text(p.message),
            Text(p.action),
        )
    return table


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
