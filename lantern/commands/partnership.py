"""``lantern synth`` and ``lantern features``: the synthetic partnership and its features.

Heavy imports happen when a command runs, so that ``lantern --help`` stays quick.
"""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lantern.commands import make_console

console = make_console()


class ExtractFormat(StrEnum):
    parquet = "parquet"
    csv = "csv"


class Preset(StrEnum):
    england = "england"
    london = "london"


class Frequency(StrEnum):
    quarterly = "quarterly"
    termly = "termly"
    annual = "annual"


def progress_bar() -> Progress:
    """A transient Rich progress bar: description, bar, count, elapsed time."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def synth(
    out: Annotated[
        Path, typer.Option(help="Folder to write: OUT/extracts and OUT/ground_truth.")
    ] = Path("data/partnership"),
    children: Annotated[int, typer.Option(help="Children aged 10-17 on the last anchor.")] = 40_000,
    years: Annotated[int, typer.Option(help="Years of snapshots and outcomes.")] = 3,
    history_years: Annotated[int, typer.Option(help="Years of records before them.")] = 1,
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed, the same partnership.")
    ] = 7,
    format: Annotated[ExtractFormat, typer.Option(help="File format of the extracts.")] = (
        ExtractFormat.parquet
    ),
    ethnicity_preset: Annotated[Preset, typer.Option(help="Ethnic make-up.")] = Preset.england,
    police_recording_bias: Annotated[
        float,
        typer.Option(
            help="Police record violence, searches and suspects involving Black "
            "children this many times as often at equal behaviour (1 = no bias)."
        ),
    ] = 1.0,
    exclusion_bias_send: Annotated[
        float,
        typer.Option(
            help="Schools exclude children with SEND this many times as often at "
            "equal behaviour (1 = no bias)."
        ),
    ] = 1.0,
    targets: Annotated[
        Path | None, typer.Option(help="Calibration targets YAML (default: the package's).")
    ] = None,
    report: Annotated[
        bool, typer.Option("--report", help="Print every calibration figure: target vs achieved.")
    ] = False,
) -> None:
    """Generate a synthetic partnership: the eight extracts, and the ground truth beside them.

    The extracts (OUT/extracts) follow the data contract; the exact outcome probabilities
    (OUT/ground_truth) are kept outside them. With --report, exits 1 if any figure is
    outside its tolerance.
    """
    from features.synth import SynthConfig, generate, write_partnership

    settings = dict(
        children=children,
        years=years,
        history_years=history_years,
        seed=seed,
        ethnicity_preset=ethnicity_preset.value,
        police_recording_bias=police_recording_bias,
        exclusion_bias_send=exclusion_bias_send,
    )
    if targets:
        settings["targets_path"] = targets
    config = SynthConfig(**settings)
    started = time.perf_counter()
    with progress_bar() as progress:
        task = progress.add_task("simulating months", total=None)
        partnership = generate(
            config, progress=lambda done, total: progress.update(task, completed=done, total=total)
        )
    write_partnership(partnership, out, format=format.value)
    rows = sum(len(t) for t in partnership.tables.values())
    console.print(
        f"wrote {len(partnership.tables)} extracts ({rows:,} rows) to {out / 'extracts'} and "
        f"the ground truth to {out / 'ground_truth'} in {time.perf_counter() - started:.1f} s"
    )
    if report and not _print_report(partnership):
        raise typer.Exit(code=1)


def _print_report(partnership) -> bool:
    from features.synth.report import calibration_report

    rows = calibration_report(partnership)
    table = Table(title="Calibration: target vs achieved (last full year)")
    for column in ("figure", "target", "tolerance", "achieved", "", "kind", "source"):
        table.add_column(column, overflow="fold")
    for row in rows:
        f = row.figure
        table.add_row(
            row.name,
            f"{f.target:g}",
            f"{f.low:g} to {f.high:g}",
            f"{row.achieved:.4g}",
            "[green]ok[/]" if row.ok else "[bold red]OUT[/]",
            f.kind,
            f.source,
        )
    console.print(table)
    missed = [r.name for r in rows if not r.ok]
    if missed:
        console.print(
            f"[bold red]{len(missed)} figure(s) outside tolerance:[/] {', '.join(missed)}"
        )
    else:
        console.print(f"[green]all {len(rows)} figures within tolerance[/]")
    return not missed


def features(
    data: Annotated[Path, typer.Argument(help="Folder of extracts (or a partnership folder).")],
    out: Annotated[Path, typer.Option(help="Feature table to write (.parquet or .csv).")] = Path(
        "features.parquet"
    ),
    snapshots: Annotated[Frequency, typer.Option(help="Snapshot frequency.")] = Frequency.quarterly,
    start: Annotated[
        str | None,
        typer.Option(
            help="First snapshot date (YYYY-MM-DD); default: a year after the records "
            "start, so every feature has a year of history."
        ),
    ] = None,
    outcomes: Annotated[
        Path | None, typer.Option(help="Outcome definitions YAML (default: the package's).")
    ] = None,
) -> None:
    """Build the point-in-time feature table: one row per child per snapshot, with labels.

    Features use only records dated on or before each snapshot; labels use records in the
    12 months after it (blank where those months are not yet in the records).
    """
    import pandas as pd

    from features.build import (
        build_features,
        default_snapshot_dates,
        snapshot_dates,
        write_table,
    )
    from features.contract import load_extracts
    from features.outcomes import load_outcomes
    from features.pointintime import index_records

    started = time.perf_counter()
    extracts = load_extracts(data)
    records = index_records(extracts.tables())
    if start:
        dates = snapshot_dates(pd.Timestamp(start), records.data_end(), snapshots.value)
    else:
        dates = default_snapshot_dates(records, snapshots.value)
    if not dates:
        console.print(
            f"[red]no snapshot dates before the records' end {records.data_end():%Y-%m-%d}: "
            "the extracts need a year of history first; give an earlier --start[/]"
        )
        raise typer.Exit(code=1)
    with progress_bar() as progress:
        task = progress.add_task("building snapshots", total=len(dates))
        table = build_features(
            records,
            dates,
            outcomes=load_outcomes(outcomes),
            progress=lambda _t: progress.advance(task),
        )
    write_table(table, out)
    console.print(
        f"wrote {len(table):,} rows x {table.shape[1]} columns ({len(dates)} snapshots, "
        f"{dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}) to {out} in "
        f"{time.perf_counter() - started:.1f} s"
    )


def list_features() -> None:
    """List every feature in the registry: name, source, window, unit, phrase."""
    from features.registry import default_registry

    table = Table(title="Feature registry")
    for column in ("feature", "agency", "window", "unit", "sensitive", "phrase"):
        table.add_column(column, overflow="fold")
    for spec in default_registry().values():
        table.add_row(
            spec.name,
            spec.agency,
            spec.window,
            spec.unit,
            "yes" if spec.sensitive else "",
            spec.description,
        )
    console.print(table)
