"""``lantern audit``: the fairness audit of any scores file, or of a registered model,
written as JSON and HTML.

The scores file is read and audited by :func:`fairness.scores.audit_scores_file`, a model
by :func:`training.fairness_audit.audit_model`; the reports are rendered by :mod:`fairness.report`.

Heavy imports happen when the command runs, so that ``lantern --help`` stays quick.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from lantern.commands import make_console

if TYPE_CHECKING:
    from fairness import AuditReport, AuditResult, FairnessPolicy
    from fairness.scores import ScoresFile

console = make_console()


class AuditInputError(ValueError):
    """An option cannot be used; the message says what to give instead."""


# --------------------------------------------------------------------------- options


def _group_cols(text: str) -> list[str]:
    cols = [c.strip() for c in text.split(",") if c.strip()]
    if not cols:
        raise AuditInputError("--group-cols is empty; give e.g. --group-cols ethnicity,send")
    return cols


def _references(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        column, sep, value = pair.partition("=")
        if not sep or not column.strip():
            raise AuditInputError(
                f"--reference {pair!r} is not COLUMN=VALUE; give e.g. --reference ethnicity=White"
            )
        out[column.strip()] = value.strip()
    return out


def _tolerance(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError:
        raise AuditInputError(
            f"--tolerance {text!r} is not LOW,HIGH; give e.g. --tolerance 0.8,1.25"
        ) from None
    return lo, hi


def _policy(path: Path | None, group_cols: list[str], tolerance) -> FairnessPolicy:
    """The policy file's, or the default policy over the audited group columns."""
    from fairness import FairnessPolicy

    if path is not None:
        try:
            return FairnessPolicy.from_yaml(path)
        except (OSError, ValueError) as err:
            raise AuditInputError(f"--policy {path}: {err}") from None
    return FairnessPolicy(group_columns=group_cols, tolerance=tolerance)


def _context(args: dict[str, Any], source: ScoresFile):
    from fairness import ReportContext

    words = {k: v for k, v in args.items() if k != "context" and v is not None}
    words["source"] = source.describe()
    try:
        if args["context"] is not None:
            return ReportContext.from_yaml(args["context"], **words)
        return ReportContext(**words)
    except (OSError, ValueError) as err:
        raise AuditInputError(f"--context: {err}") from None


# --------------------------------------------------------------------------- the command


def audit(
    model: Annotated[
        str | None,
        typer.Option(help="Audit a registered model (its test period); else give --scores."),
    ] = None,
    version: Annotated[
        str | None, typer.Option(help="With --model: the version (default: the challenger).")
    ] = None,
    scores: Annotated[
        Path | None,
        typer.Option(help="Scores file (CSV or Parquet): one row per scored child/person."),
    ] = None,
    score_col: Annotated[
        str | None, typer.Option(help="Score column; higher = more concern.")
    ] = None,
    label_col: Annotated[str | None, typer.Option(help="Recorded outcome column (0/1).")] = None,
    group_cols: Annotated[
        str | None, typer.Option(help="Comma-separated group columns, e.g. ethnicity,send,sex.")
    ] = None,
    threshold: Annotated[
        float | None, typer.Option(help="Flag every row scored at least this.")
    ] = None,
    top_k: Annotated[
        float | None,
        typer.Option(help="Flag the K highest scores: a count (>= 1) or a share (< 1)."),
    ] = None,
    true_label_col: Annotated[
        str | None, typer.Option(help="True outcome column (0/1), e.g. on synthetic data.")
    ] = None,
    baseline_col: Annotated[
        str | None, typer.Option(help="A baseline score column audited the same way.")
    ] = None,
    baseline_threshold: Annotated[
        float | None,
        typer.Option(help="The baseline's threshold (default: flag as many as the score)."),
    ] = None,
    reference: Annotated[
        list[str] | None,
        typer.Option(help="Reference group COLUMN=VALUE (repeatable); default the largest."),
    ] = None,
    filter: Annotated[
        list[str] | None,
        typer.Option(help="Keep rows matching this pandas query (repeatable, applied in order)."),
    ] = None,
    label_definition: Annotated[
        str | None, typer.Option(help="Exactly what the outcome column records.")
    ] = None,
    purpose: Annotated[str | None, typer.Option(help="What the score is for.")] = None,
    population: Annotated[
        str | None, typer.Option(help="Plural noun for those scored: children (default), people.")
    ] = None,
    threshold_rationale: Annotated[
        str | None, typer.Option(help="Why this threshold or capacity.")
    ] = None,
    title: Annotated[str | None, typer.Option(help="The report's title.")] = None,
    context: Annotated[
        Path | None, typer.Option(help="YAML of the report's words (purpose, uses, ...).")
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            help="Fairness policy YAML (default: FNR, recall, selection rate over the group columns)."
        ),
    ] = None,
    previous: Annotated[
        Path | None, typer.Option(help="The last audit's fairness.json, to show what changed.")
    ] = None,
    tolerance: Annotated[str, typer.Option(help="Tolerance band LOW,HIGH.")] = "0.8,1.25",
    min_cell: Annotated[
        int, typer.Option(help="Suppress figures resting on fewer than this.")
    ] = 10,
    intersections: Annotated[
        bool, typer.Option(help="Also audit intersections of pairs of group columns.")
    ] = True,
    cluster_col: Annotated[
        str | None, typer.Option(help="Resample whole clusters (e.g. child_id with several rows).")
    ] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates for the intervals.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    out: Annotated[Path, typer.Option(help="Folder for fairness.json and fairness.html.")] = Path(
        "fairness-audit"
    ),
) -> None:
    """Audit a scores file for disproportionality: per-group rates with intervals, ratios to a
    reference group, flags outside the tolerance band, calibration, suppression of small cells.

    Writes OUT/fairness.json (schema lantern.fairness/1) and OUT/fairness.html (self-contained).
    """
    from fairness import load_previous, prepare_report, write_reports
    from fairness.scores import audit_scores_file

    started = time.perf_counter()
    if model:
        _audit_model(model, version, n_boot=n_boot, seed=seed)
        return
    missing = [
        f"--{n.replace('_', '-')}"
        for n, v in (
            ("scores", scores),
            ("score_col", score_col),
            ("label_col", label_col),
            ("group_cols", group_cols),
        )
        if v is None
    ]
    if missing:
        console.print(
            f"[red]give --model M to audit a registered model, or a scores file with "
            f"{', '.join(missing)}[/]"
        )
        raise typer.Exit(code=1)
    try:
        groups = _group_cols(group_cols)
        band = _tolerance(tolerance)
        chosen_policy = _policy(policy, groups, band)
        last = load_previous(previous) if previous is not None else None
        with console.status("auditing"):
            result, source = audit_scores_file(
                scores,
                score_col=score_col,
                label_col=label_col,
                group_cols=groups,
                filters=filter,
                threshold=threshold,
                top_k=top_k,
                true_label=true_label_col,
                baseline=baseline_col,
                baseline_threshold=baseline_threshold,
                intersections=intersections,
                references=_references(reference or []),
                tolerance=band,
                min_cell=min_cell,
                n_boot=n_boot,
                seed=seed,
                cluster=cluster_col,
            )
        words = {
            "label_definition": label_definition,
            "purpose": purpose,
            "population": population,
            "threshold_rationale": threshold_rationale,
            "title": title,
            "context": context,
        }
        report = prepare_report(
            result, context=_context(words, source), policy=chosen_policy, previous=last
        )
        with console.status("writing reports"):
            json_path, html_path = write_reports(report, out)
    except (AuditInputError, ValueError) as err:
        console.print(f"[red]{err}[/]")
        raise typer.Exit(code=1) from None
    print_summary(report, source)
    console.print(f"wrote {json_path} and {html_path} ({time.perf_counter() - started:.1f} s)")


def _audit_model(name: str, version: str | None, *, n_boot: int, seed: int) -> None:
    from models.tracking import TrackingSettings
    from training.fairness_audit import audit_model

    try:
        with console.status(f"auditing {name}"):
            done = audit_model(name, TrackingSettings(), version=version, n_boot=n_boot, seed=seed)
    except LookupError as err:
        console.print(f"[red]{err}[/]")
        raise typer.Exit(code=1) from None
    print_summary(done.report, None)
    verdict = "[green]passes[/]" if done.verdict["passed"] else "[bold red]fails[/]"
    console.print(
        f"{name} v{done.version} {verdict} the fairness policy; logged {', '.join(done.logged)}"
    )


# --------------------------------------------------------------------------- summary


def _fmt(row, percent: bool = True) -> str:
    if row is None:
        return "-"
    if row["suppressed"]:
        return "[dim]suppressed[/]"
    value = row["value"]
    return f"{100 * value:.1f}%" if percent else f"{value:.3f}"


def _fmt_ratio(row) -> str:
    if row is None:
        return "-"
    if row["suppressed"]:
        return "[dim]suppressed[/]"
    if row["group"] == row["reference"]:
        return "[dim]reference[/]"
    text = f"{row['ratio']:.2f} ({row['low']:.2f}-{row['high']:.2f})"
    return f"[bold red]{text} FLAG[/]" if row["flag"] else text


def print_summary(report: AuditReport, source: ScoresFile | None = None) -> None:
    """The audit at a glance: verdict, flags, and per-group rates and ratios."""
    r = report.result
    op = r.operating_point
    noun = report.context.population
    if source is not None:
        console.print(source.describe())
    lowest = "none flagged" if op.n_flagged == 0 else f"lowest score flagged {op.threshold:g}"
    console.print(
        f"{r.n:,} {noun} audited; {op.n_flagged:,} flagged ({op.share_flagged:.1%}); {lowest}"
    )
    metrics = list(report.policy.metrics) if report.policy else ["fnr", "tpr", "selection_rate"]
    for g in r.groupings:
        console.print(_grouping_table(r, g, metrics, noun))
    flags = r.flags
    if len(flags):
        console.print(
            f"[bold red]{len(flags)} disparity ratio(s) lie wholly outside the band "
            f"{r.settings.tolerance[0]:g}-{r.settings.tolerance[1]:g}[/] (all are in the report)"
        )
    small = r.groups[r.groups["suppressed"]]
    if len(small):
        listed = ", ".join(
            f"{a} = {b}" for a, b in zip(small["grouping"], small["group"], strict=True)
        )
        console.print(f"[yellow]suppressed (fewer than {r.settings.min_cell} {noun}):[/] {listed}")
    if report.verdict is not None:
        ok = report.verdict["passed"]
        console.print(
            "[bold green]fairness policy: PASSED[/]"
            if ok
            else "[bold red]fairness policy: FAILED[/]"
        )
        for reason in report.verdict["reasons"]:
            console.print(f"  - {reason}", style=None if ok else "red")


def _grouping_table(r: AuditResult, g, metrics: list[str], noun: str) -> Table:
    from fairness.report_html import COLUMN_NAMES
    from fairness.result import ANY, RECORDED

    table = Table(title=f"{g.name} (reference {g.reference})", title_justify="left")
    for column in ["group", "n", "base rate", "selected", "TPR", "FNR", "FPR", "precision"]:
        table.add_column(column, justify="left" if column == "group" else "right")
    for m in metrics:
        table.add_column(f"{COLUMN_NAMES[m]} ratio", justify="right")
    m_rows = r.metrics[
        (r.metrics["grouping"] == g.name) & r.metrics["outcome"].isin([ANY, RECORDED])
    ]
    d_rows = r.disparities[
        (r.disparities["grouping"] == g.name) & r.disparities["outcome"].isin([ANY, RECORDED])
    ]
    look = {(x["group"], x["metric"]): x for _, x in m_rows.iterrows()}
    ratios = {(x["group"], x["metric"]): x for _, x in d_rows.iterrows()}
    sizes = r.groups[r.groups["grouping"] == g.name].set_index("group")
    for group in g.groups:
        size = sizes.loc[group]
        if size["suppressed"]:
            table.add_row(group, f"[dim]suppressed: fewer than {r.settings.min_cell} {noun}[/]")
            continue
        cells = [
            _fmt(look.get((group, m)))
            for m in ("base_rate", "selection_rate", "tpr", "fnr", "fpr", "precision")
        ]
        table.add_row(
            group,
            f"{int(size['n']):,}",
            *cells,
            *[_fmt_ratio(ratios.get((group, m))) for m in metrics],
        )
    return table


# --------------------------------------------------------------------------- label bias


def label_bias(
    data: Annotated[Path, typer.Argument(help="Partnership folder or folder of extracts.")],
    outcome: Annotated[
        str, typer.Option(help="The outcome whose cross-agency record pairs are compared.")
    ] = "serious_violence",
    years: Annotated[
        int,
        typer.Option(
            help="Compare the records of this many years to the newest (as `lantern train`)."
        ),
    ] = 3,
    reference: Annotated[
        list[str] | None,
        typer.Option(help="Reference group COLUMN=VALUE (repeatable); default the largest."),
    ] = None,
    tolerance: Annotated[str, typer.Option(help="Tolerance band LOW,HIGH.")] = "0.8,1.25",
    min_events: Annotated[
        int, typer.Option(help="Records each side needs for a group to be judged.")
    ] = 10,
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates for the intervals.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    out: Annotated[Path, typer.Option(help="Folder for label_bias.json and .html.")] = Path(
        "label-bias"
    ),
) -> None:
    """Look for label bias in the recorded data alone: two agencies' records of one harm,
    compared by group (for serious violence, police victim records against ED assault
    attendances). No ground truth and no model are needed.

    Writes OUT/label_bias.json and OUT/label_bias.html. Exits 0 whether or not a group is
    flagged (a flag is a finding for the board), 1 if the data cannot be read or compared.
    """
    from fairness.triangulation_report import finding, write_label_bias
    from features.contract import ContractError, load_extracts
    from training.label_bias import check_label_bias

    try:
        band = _tolerance(tolerance)
        extracts = load_extracts(data)
        with console.status("comparing agencies' records"):
            results = check_label_bias(
                extracts.tables(),
                outcome,
                years=years,
                reference=_references(reference or []),
                band=band,
                min_events=min_events,
                n_boot=n_boot,
                seed=seed,
            )
        source = f"the extracts in {data}"
        json_path, html_path = write_label_bias(results, out, outcome=outcome, source=source)
    except ContractError as err:
        console.print(f"[red]{data} does not keep the data contract: {err}[/]")
        console.print("run `lantern validate` on it to see every problem")
        raise typer.Exit(code=1) from None
    except (AuditInputError, KeyError, ValueError) as err:
        console.print(f"[red]{err.args[0] if isinstance(err, KeyError) else err}[/]")
        raise typer.Exit(code=1) from None
    if not results:
        console.print(
            f"{outcome} has no cross_checks in its outcome definition: nothing to compare"
        )
    for result in results:
        text = finding(result)
        console.print(f"[bold red]{text}[/]" if not result.flagged().empty else text)
    console.print(f"wrote {json_path} and {html_path}")
