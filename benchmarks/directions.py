"""What the direction constraints cost and what they buy: both models trained with and
without them on the same split, and the reasons every child's prompt would show."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUTCOMES = ("exclusion_neet", "serious_violence")
TOP = 5
"""Reasons of each direction a prompt shows by default."""


def contrary_reason(spec, value: float, weight: float, lowest: float, highest: float) -> bool:
    """Whether a reason's part runs against its declared direction where the direction is
    unambiguous: a flag set lowering concern (or unset raising it) for a feature declared to
    raise concern, a value at the feature's lowest raising concern or at its highest lowering
    it; mirrored for a protective feature."""
    from explain.reasons import reads_against

    if spec.unit == "flag":
        return reads_against(spec, value, weight)
    sign = {"raises": 1, "protective": -1}.get(spec.direction, 0)
    if not sign or np.isnan(value):
        return False
    rises = weight > 0
    at_low, at_high = value <= lowest, value >= highest
    return (rises == (sign > 0) and at_low) or (rises != (sign > 0) and at_high)


def _shown_before(x: np.ndarray, c: np.ndarray, model, registry) -> list[tuple[str, float]]:
    """The reasons a prompt showed before issue 17: every record (not age) whose weight was
    over 0.01, the top of each side, recorded or not."""
    weights = model.slope * c[:-1]
    parts = [
        (name, w)
        for name, w in zip(model.features, weights, strict=True)
        if not registry[name].context and abs(w) > 0.01
    ]
    parts.sort(key=lambda p: -abs(p[1]))
    return [p for p in parts if p[1] > 0][:TOP] + [p for p in parts if p[1] < 0][:TOP]


def prompt_faults(model, X: np.ndarray, *, before: bool = False) -> dict[str, float]:
    """Over every row of ``X``: the share of prompts whose top reasons include one that is
    not material (under 5% of the weight), says nothing ("+0", "not recorded") or runs
    against its declared direction; ``before``: the reasons as prompts showed them before."""
    from explain.reasons import MIN_SHARE, explain_row, says_nothing
    from features.registry import default_registry

    registry = default_registry()
    contributions = model.booster.predict(X, pred_contrib=True)
    lowest, highest = np.nanmin(X, axis=0), np.nanmax(X, axis=0)
    index = {name: j for j, name in enumerate(model.features)}
    counts = {"immaterial": 0, "says nothing": 0, "contrary": 0, "any": 0}
    for x, c in zip(X, contributions, strict=True):
        total = float(np.abs(model.slope * c[:-1]).sum())
        if before:
            shown = _shown_before(x, c, model, registry)
        else:
            e = explain_row(x, c, model, registry, top_n=TOP)
            shown = [(r.feature, r.weight) for r in e.concerns + e.protective]
        found = set()
        for name, weight in shown:
            spec, j = registry[name], index[name]
            value = x[j]
            if abs(weight) < MIN_SHARE * total:
                found.add("immaterial")
            if np.isnan(value) or says_nothing(spec, value):
                found.add("says nothing")
            if contrary_reason(spec, value, weight, lowest[j], highest[j]):
                found.add("contrary")
        for kind in found:
            counts[kind] += 1
        counts["any"] += bool(found)
    return {kind: n / len(X) for kind, n in counts.items()}


def served_prompt_faults(model, X: np.ndarray, outcome: str, *, top: int = 10, random: int = 50):
    """The prompt sections the service builds (``explain.prompt.model_prompt``, in process)
    for the ``top`` highest-ranked children and ``random`` others: how many name a contrary,
    empty ("+0", not recorded) or age reason, or lack a "what would change" line where an
    actionable record is worse than typical."""
    from explain.changes import changed_records
    from explain.prompt import ServedModel, model_prompt
    from explain.reasons import says_nothing
    from features.outcomes import load_outcomes
    from features.registry import default_registry

    registry = default_registry()
    served = ServedModel(model, "bench", load_outcomes()[outcome])
    p = model.predict_proba(X)
    cohort = np.sort(p)
    rng = np.random.default_rng(0)
    rows = list(np.argsort(-p, kind="stable")[:top])
    rows += list(rng.choice(np.setdiff1d(np.arange(len(X)), rows), random, replace=False))
    contributions = model.booster.predict(X[rows], pred_contrib=True)
    lowest, highest = np.nanmin(X, axis=0), np.nanmax(X, axis=0)
    faults = 0
    for i, c in zip(rows, contributions, strict=True):
        section = model_prompt(served, X[i], c, registry, cohort, snapshot_date="2000-01-01")
        e = section.explanation
        bad = False
        for r in e.concerns + e.protective:
            spec, j = registry[r.feature], model.features.index(r.feature)
            bad |= spec.context or np.isnan(r.value) or says_nothing(spec, r.value)
            bad |= contrary_reason(spec, r.value, r.weight, lowest[j], highest[j])
        actionable = set(changed_records(X[i], model.features, registry))
        bad |= actionable != {change.lever for change in section.changes}
        faults += bool(bad)
    return faults, len(rows)


def bench_directions(data: str | Path) -> tuple[str, list[dict], list[str]]:
    """Train both models with and without the constraints; return a note, the checks and
    the report's section."""
    from benchmarks.quality import check
    from models.scoring import as_matrix
    from training.config import load_training_settings
    from training.directions import check_directions
    from training.pipeline import train_outcome

    data = Path(data)
    table = pd.read_parquet(data / "features.parquet")
    latest = table[table["snapshot_date"] == table["snapshot_date"].max()]
    settings = load_training_settings()
    free = settings.model_copy(
        update={"lightgbm": settings.lightgbm.model_copy(update={"monotone": False})}
    )
    notes, checks, section_notes = [], [], []
    section = [
        "## Directions the models keep to",
        "",
        "Each model trained with the registry's directions as monotone constraints "
        f"(method {settings.lightgbm.monotone_method}) and without them, on the same split "
        "(test period, held-out children; 95% intervals). Contrary features: those whose "
        "TreeSHAP contributions run against their declared direction over every child at the "
        f"newest snapshot ({len(latest):,} children). Prompt faults: the share of those "
        f"children whose top {TOP} reasons of either side include one under 5% of the weight, "
        "one that says nothing (+0, not recorded) or one against its declared direction "
        "(without the constraints: the reasons as prompts showed them before, every record "
        "over 0.01 log-odds, recorded or not).",
        "",
        "| model | constraints | AUC within age | ECE | contrary features | prompts with a fault "
        "| prompts with a contrary reason, before the reasons' filter |",
        "| --- | --- | --- | ---: | --- | ---: | ---: |",
    ]
    for outcome in OUTCOMES:
        runs = {}
        for name, s in (("on", settings), ("off", free)):
            result = train_outcome(table, outcome, s)
            X = as_matrix(latest, result.model.features)
            contrary = check_directions(result.model, X).contrary()
            faults = prompt_faults(result.model, X, before=name == "off")
            raw = faults if name == "off" else prompt_faults(result.model, X, before=True)
            runs[name] = (result, contrary, faults)
            m = result.evaluation.metrics["lantern"]
            label = f"on, method {settings.lightgbm.monotone_method}" if name == "on" else name
            section.append(
                f"| {outcome} | {label} | {m.format(result.headline)} | {m.point['ece']:.4f} | "
                f"{len(contrary)}{': ' + ', '.join(contrary) if contrary else ''} | "
                f"{faults['any']:.1%} | {raw['contrary']:.1%} |"
            )
        for method in ("intermediate", "advanced"):  # how the method was chosen
            other = settings.model_copy(
                update={
                    "lightgbm": settings.lightgbm.model_copy(update={"monotone_method": method})
                }
            )
            result = train_outcome(table, outcome, other)
            contrary = check_directions(result.model, as_matrix(latest, result.model.features))
            m = result.evaluation.metrics["lantern"]
            section.append(
                f"| {outcome} | on, method {method} | {m.format(result.headline)} | "
                f"{m.point['ece']:.4f} | {len(contrary.contrary())} | | |"
            )
        (on, on_contrary, on_faults), (off, off_contrary, _) = runs["on"], runs["off"]
        served_faults, served = served_prompt_faults(
            on.model, as_matrix(latest, on.model.features), outcome
        )
        section_notes.append(
            f"{outcome}: {served_faults} of {served} prompt sections (the 10 highest-ranked "
            "children and 50 at random) name a contrary, empty or age reason or lack a 'what "
            "would change' line where an actionable record is worse than typical"
        )
        headline = on.headline
        cost = (
            off.evaluation.metrics["lantern"].point[headline]
            - on.evaluation.metrics["lantern"].point[headline]
        )
        notes.append(
            f"{outcome}: AUC within age {on.evaluation.metrics['lantern'].point[headline]:.3f} "
            f"with the constraints, {off.evaluation.metrics['lantern'].point[headline]:.3f} "
            f"without; contrary features {len(on_contrary)} with, {len(off_contrary)} without"
        )
        checks += [
            check(f"{outcome}: AUC within age the constraints cost", cost, "<= 0.005", "<=", 0.005),
            check(
                f"{outcome}: contrary features with the constraints",
                len(on_contrary),
                "== 0",
                "<=",
                0,
            ),
            check(
                f"{outcome}: share of prompts with a fault in their top {TOP} reasons",
                on_faults["any"],
                "== 0",
                "<=",
                0,
            ),
            check(
                f"{outcome}: served prompt sections with a fault", served_faults, "== 0", "<=", 0
            ),
        ]
    section += ["", *[f"- {n}." for n in section_notes]]
    return "; ".join(notes), checks, section
