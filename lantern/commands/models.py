"""``lantern promote`` and ``lantern retrain``: the analyst's quarter."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lantern.commands import clean_leftovers, make_console
from lantern.commands.governance import PartnershipOption, load_partnership_or_exit
from lantern.commands.training import ModelChoice

console = make_console()


def promote(
    model: Annotated[
        str, typer.Option(help="The registered model: exclusion_neet or serious_violence.")
    ],
    force: Annotated[bool, typer.Option("--force", help="Promote even if a gate fails.")] = False,
    reason: Annotated[
        str | None, typer.Option(help="Why, when forcing (required with --force; logged).")
    ] = None,
    auc_tolerance: Annotated[float, typer.Option(help="AUC the challenger may lose.")] = 0.01,
    ece_tolerance: Annotated[float, typer.Option(help="ECE the challenger may add.")] = 0.01,
    partnership: PartnershipOption = None,
) -> None:
    """Move `champion` to the challenger if the gates pass; record why, either way.

    Gates: test AUC and calibration no worse than the champion's (beyond tolerance) on the
    challenger's own test rows, and the fairness audit. A refusal changes nothing and exits 1.
    A promoted version gets its transparency record (record/) logged to its run.
    """
    from governance.transparency import log_transparency_record
    from models.tracking import TrackingSettings
    from training.promotion import PromotionPolicy
    from training.retrain import promote_challenger

    facts = load_partnership_or_exit(partnership)
    tracking = TrackingSettings()
    clean_leftovers(tracking, console)
    try:
        decision = promote_challenger(
            model,
            tracking,
            policy=PromotionPolicy(auc_tolerance=auc_tolerance, ece_tolerance=ece_tolerance),
            force=force,
            reason=reason,
        )
    except (LookupError, ValueError) as err:
        console.print(f"[red]{err}[/]")
        raise typer.Exit(code=1) from None
    console.print(decision.summary())
    if not decision.promoted:
        raise typer.Exit(code=1)
    log_transparency_record(model, decision.version, tracking, facts)
    console.print(f"  transparency record logged to v{decision.version}'s run (record/)")


def retrain(
    data: Annotated[Path, typer.Argument(help="The partnership's latest extracts.")],
    config: Annotated[Path | None, typer.Option(help="Training settings YAML.")] = None,
) -> None:
    """The quarter: build features, train challengers, compare with champions on the same
    data, and report feature drift and base-rate change. Stops before promotion."""
    from features.outcomes import load_outcomes
    from lantern.commands.training import train
    from models.tracking import TrackingSettings
    from training.retrain import log_report, quarter_report

    train(data=data, model=ModelChoice.all, config=config)
    settings = TrackingSettings()
    for name in load_outcomes():
        report = quarter_report(name, settings)
        log_report(report, settings)
        _print_report(report)
    console.print("Nothing was promoted. To promote: `lantern promote --model NAME`.")


def _print_report(report) -> None:
    c = report.comparison
    table = Table(
        title=f"{c.name}: challenger v{c.challenger_version} vs champion "
        f"{'v' + c.champion_version if c.champion_version else '(none yet)'}, same test rows"
    )
    for column in ("metric", "challenger", "champion"):
        table.add_column(column)
    for metric in ("auc_within_age", "auc", "average_precision", "brier", "ece", "precision_at_k"):
        champion = f"{c.champion[metric]:.4f}" if c.champion else "-"
        table.add_row(metric, f"{c.challenger[metric]:.4f}", champion)
    console.print(table)
    if report.base_rate:
        b = report.base_rate
        console.print(
            f"base rate: {b['reference']:.2%} at the champion's test, {b['current']:.2%} "
            f"now ({b['change_points']:+.2f} points)"
        )
    if report.drift is not None:
        top = report.drift.head(8)
        drift = Table(title="Feature drift (population stability index), largest first")
        for column in ("feature", "psi", "reading"):
            drift.add_column(column)
        for row in top.itertuples():
            drift.add_row(row.feature, f"{row.psi:.3f}", row.reading)
        console.print(drift)
