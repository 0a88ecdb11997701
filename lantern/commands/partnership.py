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


class Engine(StrEnum):
    pandas = "pandas"
    dask = "dask"


ENGINE_HELP = "Where to run: pandas (this process) or dask (a Dask cluster)."
SCHEDULER_HELP = (
    "Address of a running Dask scheduler (tcp://host:8786), whose workers see the same "
    "files; default with --engine dask: a local cluster of 2 workers, closed at the end."
)


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
    police_recording_rate: Annotated[
        float,
        typer.Option(
            help="Share of serious violence the police record, in every group "
            "(1 = all; 0.8 = equal under-recording)."
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
    raw: Annotated[
        bool,
        typer.Option(
            "--raw",
            help="Also write each agency's extract as that agency holds it (OUT/raw: its own "
            "references, noisy identities, published field names), for `lantern link`; the "
            "truth of who is who goes to OUT/ground_truth/identity.parquet.",
        ),
    ] = False,
    noise: Annotated[
        Path | None,
        typer.Option(help="Identity noise YAML for --raw (default: the package's noise.yaml)."),
    ] = None,
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
        police_recording_rate=police_recording_rate,
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
    if raw:
        _write_raw(partnership, out, noise)
    if report and not _print_report(partnership):
        raise typer.Exit(code=1)


def _write_raw(partnership, out: Path, noise: Path | None) -> None:
    from linkage.synth.partnership import make_raw, write_raw_partnership

    started = time.perf_counter()
    family = partnership.hidden.set_index("child_id")["family"]
    raw = make_raw(partnership.tables, family, partnership.config.seed, noise_path=noise)
    folder = write_raw_partnership(raw, out)
    files = sum(len(f) for f in raw.files.values())
    console.print(
        f"wrote {files} raw files of {len(raw.files)} agencies ({len(raw.identity):,} person "
        f"records) to {folder} and who is who to {out / 'ground_truth' / 'identity.parquet'} "
        f"in {time.perf_counter() - started:.1f} s; link them with `lantern link {folder} "
        f"--out DIR`"
    )


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
    engine: Annotated[Engine, typer.Option(help=ENGINE_HELP)] = Engine.pandas,
    scheduler: Annotated[str | None, typer.Option(help=SCHEDULER_HELP)] = None,
) -> None:
    """Build the point-in-time feature table: one row per child per snapshot, with labels.

    Features use only records dated on or before each snapshot; labels use records in the
    12 months after it (blank where those months are not yet in the records). With
    --engine dask, each snapshot is built in a Dask worker and OUT is a Parquet dataset: a
    folder of one file per snapshot, which `lantern train --features` reads as one table.
    """
    import pandas as pd

    check_engine(engine, scheduler)
    if engine == Engine.dask:
        _features_on_dask(data, out, snapshots, start, outcomes, scheduler)
        return

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


def check_engine(engine: Engine, scheduler: str | None) -> None:
    """Refuse --scheduler without --engine dask."""
    if scheduler and engine != Engine.dask:
        console.print("[red]--scheduler needs --engine dask[/]")
        raise typer.Exit(code=2)


def _features_on_dask(
    data: Path,
    out: Path,
    snapshots: Frequency,
    start: str | None,
    outcomes: Path | None,
    scheduler: str | None,
) -> None:
    from features.distributed import ClusterSettings, build_features_dask, dates_rule, open_client
    from features.outcomes import load_outcomes

    started = time.perf_counter()
    done = []
    try:
        with open_client(ClusterSettings(scheduler=scheduler)) as client, progress_bar() as bar:
            task = bar.add_task("building snapshots on dask", total=None)
            table = build_features_dask(
                data,
                dates_rule(start, snapshots.value),
                client,
                outcomes=load_outcomes(outcomes),
                out=out,
                progress=lambda t: (done.append(t), bar.advance(task)),
            )
            rows = len(table)
    except (ValueError, ConnectionError) as err:
        console.print(f"[red]{err}[/]")
        raise typer.Exit(code=1) from None
    done.sort()
    console.print(
        f"wrote {rows:,} rows x {len(table.columns)} columns ({len(done)} snapshots, "
        f"{done[0]:%Y-%m-%d} to {done[-1]:%Y-%m-%d}) to {out} (a Parquet dataset, one file "
        f"per snapshot) in {time.perf_counter() - started:.1f} s"
    )


def list_features() -> None:
    """List every feature in the registry: name, source, window, unit, phrase, and the
    direction a higher value acts in (the model is made to keep to it), with its reason."""
    from features.registry import default_registry

    table = Table(title="Feature registry")
    for column in ("feature", "agency", "window", "unit", "sensitive", "phrase", "direction"):
        table.add_column(column, overflow="fold")
    for spec in default_registry().values():
        table.add_row(
            spec.name,
            spec.agency,
            spec.window,
            spec.unit,
            "yes" if spec.sensitive else "",
            spec.description,
            f"{spec.direction}: {spec.why}",
        )
    console.print(table)
