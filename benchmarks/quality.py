"""The train stage of ``make bench``: both models on the default partnership, their quality
checked against the targets the evidence issue sets, all on the within-age headline.

Every comparison is the paired difference the model card prints (Lantern and the baseline on
the same children and bootstrap replicates), so a target is met or missed on the figure a
board reads.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

OUTCOMES = ("exclusion_neet", "serious_violence")
MIN_OUTCOMES = 10
"""Outcomes an age band needs before its AUC and average precision are shown."""
ORACLE_BAND = (0.75, 0.88)
"""Where the synthetic world's oracle should sit on the headline: hard enough not to flatter."""


def check(what: str, value: float, target: str, op: str, bound: float, unit: str = "") -> dict:
    """A target row: ``value op bound`` is the target (``op`` one of <, <=, >=, >)."""
    return {"what": what, "value": value, "unit": unit, "target": target, "op": op, "bound": bound}


def bench_training(data: str | Path) -> tuple[str, list[dict], list[str]]:
    """Train both models on ``data``'s feature table (saving them for the later stages);
    return a one-line summary, the quality checks and the by-age-band section."""
    from training.config import load_training_settings
    from training.pipeline import train_outcome

    data = Path(data)
    table = pd.read_parquet(data / "features.parquet")
    truth = pd.read_parquet(data / "ground_truth" / "outcome_probabilities.parquet")
    settings = load_training_settings()
    notes, checks = [], []
    section = [
        "## Quality by age band",
        "",
        "Each model's test figures within each age band of its eligible population (95% "
        "intervals), beside the indicator-count checklist and the oracle on the same rows.",
        "",
        "| model | age band | children | outcomes | Lantern AUC | average precision | ECE | "
        "checklist AUC | oracle AUC |",
        "| --- | --- | ---: | ---: | --- | --- | ---: | --- | --- |",
    ]
    for outcome in OUTCOMES:
        result = train_outcome(table, outcome, settings, ground_truth=truth)
        result.model.save(data / "models" / outcome)
        e = result.evaluation
        m, c, headline = e.metrics, e.comparisons, e.headline
        notes.append(
            f"{outcome}: AUC within age {m['lantern'].format(headline)} (all ages "
            f"{m['lantern'].point['auc']:.3f}); minus checklist {c['indicator_count'].format()}, "
            f"minus age alone {c['age_only'].format()}, minus logistic {c['logistic'].format()}; "
            f"oracle {m['oracle'].point[headline]:.3f}; ECE {m['lantern'].point['ece']:.4f}"
        )
        for band, by in e.bands.items():
            ours, rule = by["lantern"], by["indicator_count"]
            n, positives = ours.point["n"], ours.point["positives"]
            if positives < MIN_OUTCOMES:  # an AUC on a handful of outcomes is noise
                few = f"too few outcomes (< {MIN_OUTCOMES})"
                cells = [few, "", f"{ours.point['ece']:.4f}", "", ""]
            else:
                oracle = by["oracle"].format("auc") if "oracle" in by else "n/a"
                cells = [
                    ours.format("auc"),
                    ours.format("average_precision"),
                    f"{ours.point['ece']:.4f}",
                    rule.format("auc"),
                    oracle,
                ]
            section.append(
                f"| {outcome} | {band} | {n:,.0f} | {positives:,.0f} | " + " | ".join(cells) + " |"
            )
        checks += [
            check(
                f"{outcome}: oracle − Lantern, upper 95% bound",
                c["oracle"].high,
                "<= 0.02",
                "<=",
                0.02,
            ),
            check(f"{outcome}: ECE", m["lantern"].point["ece"], "< 0.02", "<", 0.02),
            check(
                f"{outcome}: Lantern − indicator-count checklist",
                c["indicator_count"].point,
                ">= +0.03",
                ">=",
                0.03,
            ),
            check(f"{outcome}: Lantern − age alone", c["age_only"].point, ">= +0.03", ">=", 0.03),
            check(
                f"{outcome}: Lantern − logistic regression, upper 95% bound (not below it)",
                c["logistic"].high,
                ">= 0",
                ">=",
                0.0,
            ),
            check(
                f"{outcome}: oracle AUC within age (the world is not too easy)",
                m["oracle"].point[headline],
                f"<= {ORACLE_BAND[1]}",
                "<=",
                ORACLE_BAND[1],
            ),
            check(
                f"{outcome}: oracle AUC within age (nor too hard)",
                m["oracle"].point[headline],
                f">= {ORACLE_BAND[0]}",
                ">=",
                ORACLE_BAND[0],
            ),
        ]
    return "; ".join(notes), checks, section
