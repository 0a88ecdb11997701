"""``lantern train``: train, evaluate and register the models, with a summary table."""

from __future__ import annotations

import time
from contextlib import nullcontext
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lantern.commands import clean_leftovers, make_console
from lantern.commands.governance import PartnershipOption, load_partnership_or_exit
from lantern.commands.partnership import ENGINE_HELP, SCHEDULER_HELP, Engine, check_engine

console = make_console()


class ModelChoice(StrEnum):
    all = "all"
    exclusion_neet = "exclusion_neet"
    serious_violence = "serious_violence"


def _ground_truth_file(data: Path) -> Path | None:
    """The ground-truth file, if the folder is a synthetic partnership."""
    truth = data / "ground_truth" / "outcome_probabilities.parquet"
    return truth if truth.exists() else None


def train(
    data: Annotated[
        Path | None,
        typer.Argument(
            help="A partnership folder (extracts, and ground truth if synthetic).",
            show_default=False,
        ),
    ] = None,
    model: Annotated[ModelChoice, typer.Option(help="Which model to train.")] = ModelChoice.all,
    features: Annotated[
        Path | None,
        typer.Option(help="A feature table already built by `lantern features` (else built now)."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Training settings YAML (default: the package's).")
    ] = None,
    outcomes: Annotated[
        Path | None, typer.Option(help="Outcome definitions YAML (default: the package's).")
    ] = None,
    tabular: Annotated[
        Path | None,
        typer.Option(
            help="Train on any table described by a small YAML (bring your own data) "
            "instead of a partnership."
        ),
    ] = None,
    engine: Annotated[Engine, typer.Option(help=ENGINE_HELP)] = Engine.pandas,
    scheduler: Annotated[str | None, typer.Option(help=SCHEDULER_HELP)] = None,
    partnership: PartnershipOption = None,
) -> None:
    """Train both models (or one), compare them with baselines and register each as challenger.

    Splits by time (train, validate, test on the latest complete year, held-out children),
    calibrates on the validation period, reports metrics with 95% intervals beside an
    indicator-count rule, a logistic regression and, on synthetic data, the oracle. With
    --engine dask, features (when not given) and the boosters are built on a Dask cluster.
    """
    import pandas as pd

    check_engine(engine, scheduler)

    from features.outcomes import load_outcomes
    from models.tracking import TrackingSettings
    from training.config import load_training_settings
    from training.split import SplitError

    settings = load_training_settings(config)
    facts = load_partnership_or_exit(partnership)
    tracking = TrackingSettings()
    tracking.apply()
    clean_leftovers(tracking, console)
    started = time.perf_counter()
    if tabular:
        from training.tabular import load_tabular_config, train_tabular

        result = train_tabular(load_tabular_config(tabular), settings, tracking)
        _print_summary([result], time.perf_counter() - started)
        console.print(f"{result.config.name}: {result.choice.reason}")
        if not result.choice.register:
            raise typer.Exit(code=1)
        return
    if data is None and features is None:
        console.print("[red]give a partnership folder, --features FILE, or --tabular CONFIG[/]")
        raise typer.Exit(code=2)
    definitions = load_outcomes(outcomes)
    truth_path = _ground_truth_file(data) if data else None
    names = list(definitions) if model == ModelChoice.all else [model.value]
    from lantern.commands.partnership import progress_bar
    from training.pipeline import train_and_register

    try:
        with _cluster(engine, scheduler) as client:
            table = (
                pd.read_parquet(features)
                if features
                else _build_features(data, definitions, client)
            )
            ground_truth = pd.read_parquet(truth_path) if truth_path else None
            if client is not None:
                from training.distributed import train_and_register_dask

                train_and_register = partial(train_and_register_dask, client=client)
            with progress_bar() as progress:
                task = progress.add_task(f"training {', '.join(names)}", total=len(names))
                results = train_and_register(
                    table,
                    names,
                    settings,
                    tracking,
                    ground_truth=ground_truth,
                    outcome_definitions=definitions,
                    progress=lambda name: progress.advance(task),
                )
    except (SplitError, ConnectionError) as err:
        console.print(f"[red]{err}[/]")
        raise typer.Exit(code=1) from None
    _print_summary(results, time.perf_counter() - started)
    for r in results:
        for note in r.notes:
            console.print(f"{r.outcome}: {note}")
    from governance.datasheet import log_datasheet

    linkage = _linkage_report(data)
    for r in results:
        log_datasheet(r.run_id, tracking, facts, linkage)
    console.print(
        "  datasheet logged to each run (datasheet/"
        + (", with the linkage report of the extracts" if linkage else "")
        + ")"
    )
    if data is not None:
        _log_label_bias(data, results, definitions, tracking)
    refused = [r.outcome for r in results if r.choice is not None and not r.choice.register]
    if refused:
        console.print(
            f"[red]not registered: {', '.join(refused)}[/] (the runs are logged; see "
            "`registration/choice.json` in each)"
        )
        raise typer.Exit(code=1)


def _log_label_bias(data: Path, results: list, definitions, tracking) -> None:
    """The label-bias check of each trained outcome that has cross-checks, logged to its run."""
    from features.contract import load_extracts
    from training.label_bias import check_label_bias, log_label_bias

    wanted = [r for r in results if definitions[r.outcome].cross_checks]
    if not wanted:
        return
    from fairness.triangulation_report import finding

    tables = load_extracts(data).tables()
    for r in wanted:
        checks = check_label_bias(tables, r.outcome, definitions=definitions)
        log_label_bias(
            r.run_id, checks, tracking, outcome=r.outcome, source=f"the extracts in {data}"
        )
        for check in checks:
            console.print(f"{r.outcome}: label-bias check: {finding(check)}")
    console.print("  label-bias check logged to those runs (label_bias/)")


def _cluster(engine: Engine, scheduler: str | None):
    """A Dask client for --engine dask (closed, with any local cluster, on exit); else None."""
    if engine != Engine.dask:
        return nullcontext()
    from features.distributed import ClusterSettings, open_client

    return open_client(ClusterSettings(scheduler=scheduler))


def _build_features(data: Path, definitions, client=None):
    from features.build import build_features, default_snapshot_dates
    from features.contract import load_extracts
    from features.pointintime import index_records

    if client is not None:
        from features.distributed import build_features_dask, dates_rule

        with console.status("building features on dask"):
            table = build_features_dask(data, dates_rule(), client, outcomes=definitions)
            return table.compute().reset_index(drop=True)
    with console.status("building features"):
        records = index_records(load_extracts(data).tables())
        return build_features(records, default_snapshot_dates(records), outcomes=definitions)


def _print_summary(results: list, seconds: float) -> None:
    """The results' headline table, then each comparison with a baseline."""
    registered = all(r.choice is None or r.choice.register for r in results)
    title = "Trained and registered as challenger" if registered else "Trained (see below)"
    _print_table(f"{title} ({seconds:.0f} s)", [r.summary_row() for r in results])
    comparisons = [row for r in results for row in r.comparison_rows()]
    if comparisons:
        headline = "AUC" if results[0].headline == "auc" else "AUC within age"
        _print_table(f"Paired differences on the headline ({headline}), same rows", comparisons)


def _print_table(title: str, rows: list[dict[str, str]]) -> None:
    table = Table(title=title)
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(*row.values())
    console.print(table)


def _linkage_report(data: Path | None) -> dict | None:
    """The linkage report beside the extracts (``lantern link`` writes DIR/linkage), if any."""
    import json

    if data is None:
        return None
    path = Path(data) / "linkage" / "report.json"
    return json.loads(path.read_text()) if path.exists() else None
