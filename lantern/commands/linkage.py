"""``lantern ingest`` and ``lantern link``: agency extracts as held, linked into children.

Splink and pandas are imported when a command runs, so that ``lantern --help`` stays quick.
"""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from lantern.commands import make_console
from lantern.commands.contract import _problem_table

console = make_console()

MAPPINGS_HELP = (
    "Folder of mapping YAML files, one per agency (default: the package's, for the published "
    "formats). A partnership whose export differs writes its own."
)


class LinkEngine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


def _ingest(raw_dir: Path, mappings: Path | None):
    from linkage.ingest import ingest
    from linkage.mapping import load_mappings

    try:
        return ingest(raw_dir, load_mappings(mappings))
    except (ValueError, FileNotFoundError) as err:
        console.print(Text(str(err), style="bold red"))
        raise typer.Exit(code=1) from None


def _show(ingested) -> None:
    table = Table(title="Rows read", title_justify="left")
    for column in ("file", "rows"):
        table.add_column(column)
    for name, n in ingested.rows_read.items():
        table.add_row(name, f"{n:,}")
    console.print(table)
    if ingested.dropped:
        console.print(_problem_table(ingested.dropped))
    if ingested.problems:
        console.print(_problem_table(ingested.problems))
        noun = "problem" if len(ingested.problems) == 1 else "problems"
        console.print(
            Text(f"{len(ingested.problems)} {noun}: nothing was written", style="bold red")
        )
        raise typer.Exit(code=1)


def ingest(
    raw_dir: Annotated[
        Path,
        typer.Argument(help="Folder of raw extracts, one folder per agency.", show_default=False),
    ],
    mappings: Annotated[Path | None, typer.Option(help=MAPPINGS_HELP, show_default=False)] = None,
) -> None:
    """Read every agency's extract with its mapping and report what it holds.

    Lists the rows read per file, rows left out and every problem (unmapped codes,
    unreadable dates, missing columns) with its file, column, rows and what to do. Writes
    nothing; exits 1 if there is any problem. `lantern link` reads the same way.
    """
    ingested = _ingest(raw_dir, mappings)
    _show(ingested)
    console.print(
        Text(
            f"ok: {len(ingested.people):,} person records from {len(ingested.mappings)} agencies",
            style="bold green",
        )
    )


def link(
    raw_dir: Annotated[
        Path,
        typer.Argument(help="Folder of raw extracts, one folder per agency.", show_default=False),
    ],
    out: Annotated[Path, typer.Option(help="Write DIR/extracts and DIR/linkage here.")] = Path(
        "data/linked"
    ),
    mappings: Annotated[Path | None, typer.Option(help=MAPPINGS_HELP, show_default=False)] = None,
    threshold: Annotated[
        float, typer.Option(help="Match probability at which a pair is a link.")
    ] = 0.9,
    review_from: Annotated[
        float,
        typer.Option(
            help="Pairs from this probability up to the threshold go to DIR/linkage/review.csv."
        ),
    ] = 0.5,
    decisions: Annotated[
        Path | None,
        typer.Option(
            help="A review file with its decision column filled (match / non-match): applied.",
            show_default=False,
        ),
    ] = None,
    previous: Annotated[
        Path | None,
        typer.Option(
            help="Last quarter's linkage folder (or crosswalk): its children keep their child_id. "
            "Default: DIR/linkage, if there is one.",
            show_default=False,
        ),
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option(
            help="A synthetic partnership's ground_truth folder: the report measures the linkage "
            "against who is who.",
            show_default=False,
        ),
    ] = None,
    engine: Annotated[LinkEngine, typer.Option(help="Splink's backend.")] = LinkEngine.duckdb,
    master: Annotated[
        str | None,
        typer.Option(
            help="Spark master URL with --engine spark (default: local[2]).", show_default=False
        ),
    ] = None,
) -> None:
    """Link every agency's records into children and write the contract's extracts.

    Exact rules on UPN and NHS number first, then Splink's probabilistic model (trained
    without labels), deduplicating within and linking across agencies. Writes
    DIR/extracts (the contract tables, `lantern validate` passes on them) and DIR/linkage:
    crosswalk.parquet, review.csv, model.json and report.html / report.json.
    """
    import pandas as pd

    from features.contract import ContractError
    from linkage.link import LinkSettings
    from linkage.link import link as run
    from linkage.outputs import linkage_key, previous_crosswalk, write_linked
    from linkage.quality import measure, record_groups, send_recorded

    started = time.perf_counter()
    try:
        settings = LinkSettings(
            threshold=threshold,
            review_from=min(review_from, threshold),
            floor=min(0.05, review_from),
            engine=engine.value,
        )
    except ValueError as err:
        console.print(Text(f"bad settings: {err}", style="bold red"))
        raise typer.Exit(code=1) from None
    ingested = _ingest(raw_dir, mappings)
    _show(ingested)
    try:
        earlier = previous_crosswalk(out, previous)
        chosen = pd.read_csv(decisions, dtype=str, keep_default_na=False) if decisions else None
    except (FileNotFoundError, ValueError) as err:
        console.print(Text(str(err), style="bold red"))
        raise typer.Exit(code=1) from None
    key_folder = previous if previous is None or previous.is_dir() else previous.parent
    key = linkage_key(out, key_folder)
    spark = _spark(master) if engine == LinkEngine.spark else None
    try:
        linked = run(ingested, settings, key, previous=earlier, decisions=chosen, spark=spark)
    except ValueError as err:
        console.print(Text(str(err), style="bold red"))
        raise typer.Exit(code=1) from None
    finally:
        if spark is not None:
            import shutil

            checkpoints = spark.sparkContext.getCheckpointDir()
            spark.stop()
            if checkpoints:
                shutil.rmtree(checkpoints.removeprefix("file:"), ignore_errors=True)
    when = pd.Timestamp(max(ingested.people["last_seen"].dropna(), default=pd.Timestamp.now()))
    send = send_recorded(linked.tables.get("school_census"))
    groups = record_groups(linked.tables["children"], send, when)
    identity, people = _truth(truth)
    true_groups = None
    if people is not None:
        true_groups = record_groups(
            people.rename(columns={"person_id": "child_id"}),
            people.set_index("person_id")["send"] == "SEND",
            when,
        )
    quality = measure(linked.crosswalk, linked.pairs, groups, identity, true_groups)
    try:
        write_linked(linked, quality, key, out)
    except ContractError as err:
        console.print(_problem_table(err.problems))
        console.print(
            Text("the linked extracts break the contract: nothing was written", style="bold red")
        )
        raise typer.Exit(code=1) from None
    console.print(
        f"linked {quality.records:,} records into {quality.children:,} children in "
        f"{time.perf_counter() - started:.1f} s; {len(linked.review):,} pairs to review in "
        f"{out / 'linkage' / 'review.csv'}"
        + ("; ids kept from the last crosswalk" if earlier is not None else "")
    )
    if quality.truth:
        t = quality.truth
        console.print(
            f"against the ground truth: precision {t['precision']:.4f}, recall "
            f"{t['recall']:.4f}, records missing a match {100 * t['missed']:.2f}%, falsely "
            f"matched {100 * t['false']:.2f}%"
        )
    if truth is not None:
        _rekey_truth(truth, linked.crosswalk, identity, out)
    console.print(f"report: {out / 'linkage' / 'report.html'}")


def _rekey_truth(truth: Path, crosswalk, identity, out: Path) -> None:
    """Carry the synthetic outcome probabilities over to the linked ids (evaluation only)."""
    import os

    import pandas as pd

    from linkage.quality import person_to_child

    source = truth / "outcome_probabilities.parquet"
    if not source.exists():
        return
    ids = person_to_child(crosswalk, identity)
    probabilities = pd.read_parquet(source)
    probabilities["child_id"] = probabilities["child_id"].map(ids)
    probabilities = probabilities[probabilities["child_id"].notna()]
    folder = out / "ground_truth"
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / ".outcome_probabilities.parquet.partial"
    probabilities.to_parquet(partial, index=False)
    os.replace(partial, folder / source.name)
    console.print(
        f"the ground truth's outcome probabilities, carried to the linked ids for evaluation: "
        f"{folder / source.name} ({probabilities['child_id'].nunique():,} children)"
    )


def _truth(folder: Path | None):
    if folder is None:
        return None, None
    import pandas as pd

    from linkage.synth.partnership import IDENTITY, PEOPLE

    try:
        identity = pd.read_parquet(folder / IDENTITY)
        people = pd.read_parquet(folder / PEOPLE)
    except FileNotFoundError:
        console.print(
            Text(
                f"no {IDENTITY} and {PEOPLE} in {folder}; give the ground_truth "
                "folder written by `lantern synth --raw`",
                style="bold red",
            )
        )
        raise typer.Exit(code=1) from None
    return identity, people


def _spark(master: str | None):
    try:
        from pyspark.sql import SparkSession
        from splink.backends.spark import similarity_jar_location
    except ImportError:
        console.print(
            Text("the Spark engine needs pyspark (and Java 17): make spark", style="bold red")
        )
        raise typer.Exit(code=1) from None
    import tempfile

    spark = (
        SparkSession.builder.master(master or "local[2]")
        .appName("lantern-link")
        .config("spark.jars", similarity_jar_location())
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .getOrCreate()
    )
    # Splink checkpoints its intermediate tables; the folder goes when the session stops.
    spark.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="lantern-spark-"))
    return spark
