"""The linkage stage of ``make bench``: the partnership's raw agency extracts linked back into
children, timed, and measured against the truth of who is who.

Beside it, on the same records in the same run: deterministic linkage on the identifiers
alone (a shared UPN or NHS number), the shape of the hospital-records method the seed facts
cite (4.1% missed at 0.2% false there).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

F1_GAP = 0.01
"""The issue's bound: every ethnic group's F1 within this of the best group's."""
AUC_GAP = 0.01
"""The issue's bound: the raw path's AUC within age within this of the pre-linked path's."""
LINKED = "linked"
"""Where the link stage writes the linked extracts, in the stage's partnership folder."""


def _quality(crosswalk, pairs, linked_children, school_census, truth, people, when):
    from linkage.quality import measure, record_groups, send_recorded

    groups = record_groups(linked_children, send_recorded(school_census), when)
    true_groups = record_groups(
        people.rename(columns={"person_id": "child_id"}),
        people.set_index("person_id")["send"] == "SEND",
        when,
    )
    return measure(crosswalk, pairs, groups, truth, true_groups)


def bench_linkage(data: str | Path) -> tuple[str, list[dict], list[str]]:
    """Make the raw extracts of ``data``'s partnership, link them; return a note, the target
    checks and the report's section."""
    from benchmarks.quality import check
    from features.contract import load_extracts
    from linkage.clusters import cluster
    from linkage.ingest import ingest
    from linkage.link import LinkSettings, link
    from linkage.model import exact_pairs, standardise
    from linkage.outputs import write_linked
    from linkage.quality import person_to_child
    from linkage.synth.partnership import make_raw, write_raw_partnership

    data = Path(data)
    tables = load_extracts(data).tables()
    family = pd.read_parquet(data / "ground_truth" / "hidden_traits.parquet")
    family = family.set_index("child_id")["family"]
    started = time.perf_counter()
    raw = make_raw(tables, family, seed=7)
    folder = write_raw_partnership(raw, data / "raw_path")
    made = time.perf_counter() - started

    started = time.perf_counter()
    ingested = ingest(folder)
    read = time.perf_counter() - started
    settings = LinkSettings()
    linked = link(ingested, settings, key=b"bench")
    seconds = read + sum(linked.seconds.values())
    when = pd.Timestamp(ingested.people["last_seen"].max())
    ours = _quality(
        linked.crosswalk,
        linked.pairs,
        linked.tables["children"],
        linked.tables.get("school_census"),
        raw.identity,
        raw.people,
        when,
    )
    # The linked extracts, and the outcome truth carried to their ids, for the raw-path stage.
    write_linked(linked, ours, b"bench", data / LINKED)
    probabilities = pd.read_parquet(data / "ground_truth" / "outcome_probabilities.parquet")
    probabilities["child_id"] = probabilities["child_id"].map(
        person_to_child(linked.crosswalk, raw.identity)
    )
    (data / LINKED / "ground_truth").mkdir(exist_ok=True)
    probabilities[probabilities["child_id"].notna()].to_parquet(
        data / LINKED / "ground_truth" / "outcome_probabilities.parquet", index=False
    )

    records = standardise(ingested.people)
    exact = exact_pairs(records).assign(
        match_probability=1.0, match_weight=float("inf"), rule="exact"
    )
    labels = cluster(len(records), exact, 0.5)
    det = ingested.people[["source", "source_record_id"]].assign(child_id=[f"D{c}" for c in labels])
    theirs = _quality(
        det,
        exact,
        linked.tables["children"],
        linked.tables.get("school_census"),
        raw.identity,
        raw.people,
        when,
    )

    t, d = ours.truth, theirs.truth
    eth = ours.by_group[ours.by_group["group"] == "ethnicity"]
    gap = float(eth["f1"].max() - eth["f1"].min())
    worst = eth.sort_values("f1").iloc[0]
    checks = [
        check("link time (read, score, cluster, assemble)", seconds, "< 60 s", "<", 60, "s")
        | {"timing": True},
        check("pairwise precision", t["precision"], ">= 0.995", ">=", 0.995),
        check("pairwise recall", t["recall"], ">= 0.99", ">=", 0.99),
        check("records missing a match", t["missed"], "< 1%", "<", 0.01),
        check("records falsely matched", t["false"], "< 0.2%", "<", 0.002),
        check("F1 gap between ethnic groups (best - worst)", gap, f"<= {F1_GAP}", "<=", F1_GAP),
    ]

    def pct(x):
        return f"{100 * x:.2f}%"

    def interval(q, name):
        return f"{pct(q[name])} ({pct(q[name + '_low'])}-{pct(q[name + '_high'])})"

    lines = [
        "## Record linkage on the raw path",
        "",
        f"The partnership's extracts as each agency holds them (`lantern synth --raw`, seed 7: "
        f"{ours.records:,} person records of {len(raw.people):,} children in "
        f"{sum(len(f) for f in raw.files.values())} files, made in {made:.0f} s), linked by "
        f"`lantern link` (threshold {settings.threshold}) and measured against "
        "`identity.parquet`. Beside it, on the same records: deterministic linkage on the "
        "identifiers alone.",
        "",
        "| | Lantern (exact rules + Splink) | identifiers alone | target |",
        "|---|---|---|---|",
        f"| pairwise precision | {t['precision']:.4f} | {d['precision']:.4f} | >= 0.995 |",
        f"| pairwise recall | {t['recall']:.4f} | {d['recall']:.4f} | >= 0.99 |",
        f"| records missing a match | {interval(t, 'missed')} | {interval(d, 'missed')} | < 1% |",
        f"| records falsely matched | {interval(t, 'false')} | {interval(d, 'false')} | < 0.2% |",
        f"| children | {ours.children:,} | {theirs.children:,} | |",
        "",
        "Time: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in {"read": read, **linked.seconds}.items())
        + f"; {len(linked.review):,} pairs left for clerical review.",
        "",
        "| group | value | records | precision | recall | F1 | missed (95% interval) | false |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in ours.by_group.itertuples():
        lines.append(
            f"| {r.group} | {r.value} | {r.records:,} | {r.precision:.4f} | {r.recall:.4f} | "
            f"{r.f1:.4f} | {pct(r.missed)} ({pct(r.missed_low)}-{pct(r.missed_high)}) | "
            f"{pct(r.false)} |"
        )
    lines += [
        "",
        f"Lowest ethnic-group F1: {worst['value']} ({worst['f1']:.4f}); gap to the best "
        f"{gap:.4f} (bound {F1_GAP}).",
    ]
    note = (
        f"{ours.records:,} records: precision {t['precision']:.4f}, recall {t['recall']:.4f}, "
        f"missed {pct(t['missed'])}, false {pct(t['false'])} in {seconds:.0f} s "
        f"(identifiers alone: missed {pct(d['missed'])}, false {pct(d['false'])})"
    )
    return note, checks, lines


def bench_raw_path(data: str | Path) -> tuple[str, list[dict], list[str]]:
    """Both models trained on the linked extracts and on the pre-linked ones, side by side;
    return a note, the target checks and the report's section."""
    from benchmarks.quality import OUTCOMES, check
    from features.build import build_features, default_snapshot_dates
    from features.contract import load_extracts
    from features.pointintime import index_records
    from linkage.quality import person_to_child
    from training.config import load_training_settings
    from training.pipeline import train_outcome

    data = Path(data)
    records = index_records(load_extracts(data / LINKED).tables())
    tables = {
        "raw path (linked)": (
            build_features(records, default_snapshot_dates(records)),
            pd.read_parquet(data / LINKED / "ground_truth" / "outcome_probabilities.parquet"),
        ),
        "pre-linked": (
            pd.read_parquet(data / "features.parquet"),
            pd.read_parquet(data / "ground_truth" / "outcome_probabilities.parquet"),
        ),
    }
    settings = load_training_settings()
    lines = [
        "## The raw path against the pre-linked extracts",
        "",
        "Both models trained and tested on the linked extracts (the link stage's) and on the "
        "partnership's own pre-linked extracts, with the same settings. The raw path holds "
        "only the relationships an agency records between two people it both holds "
        "(siblings among pupils, associates among people known to the police), so it has "
        "fewer of them.",
        "",
        "| model | path | children at test | AUC within age (95% interval) | ECE |",
        "|---|---|---:|---|---:|",
    ]
    ids = person_to_child(
        pd.read_parquet(data / LINKED / "linkage" / "crosswalk.parquet"),
        pd.read_parquet(data / "raw_path" / "ground_truth" / "identity.parquet"),
    )
    checks, notes, paired = [], [], []
    for outcome in OUTCOMES:
        got, results = {}, {}
        for path, (table, truth) in tables.items():
            result = train_outcome(table, outcome, settings, ground_truth=truth)
            e, results[path] = result.evaluation, result
            m = e.metrics["lantern"]
            got[path] = m.point[e.headline]
            lines.append(
                f"| {outcome} | {path} | {m.point['n']:,.0f} | {m.format(e.headline)} | "
                f"{m.point['ece']:.4f} |"
            )
        gap, low, high, n = _paired(outcome, tables, results, ids)
        paired.append(
            f"| {outcome} | {n:,} | {gap:+.3f} ({low:+.3f} to {high:+.3f}) | "
            f"{got['raw path (linked)'] - got['pre-linked']:+.3f} |"
        )
        notes.append(f"{outcome}: raw path − pre-linked {gap:+.3f} ({low:+.3f} to {high:+.3f})")
        checks.append(
            check(
                f"{outcome}: |AUC within age, raw path − pre-linked| (paired)",
                abs(gap),
                f"<= {AUC_GAP}",
                "<=",
                AUC_GAP,
            )
        )
    lines += [
        "",
        "The two test sets hold different children (each path draws its own held-out "
        "children), so the rows above are not a paired comparison. Below, both models score "
        "the same children: those held out by both paths, at the test date, each model on its "
        "own path's features, with the pre-linked labels; the difference in AUC within age "
        "with a 95% bootstrap interval over children.",
        "",
        "| model | children held out by both | raw path − pre-linked (paired) | unpaired |",
        "|---|---:|---|---:|",
        *paired,
    ]
    return "; ".join(notes), checks, lines


def _paired(outcome, tables, results, ids, replicates: int = 500):
    """AUC within age of both models on the children both paths held out, and its bootstrap."""
    from features.build import label_column
    from features.populations import within_age_auc
    from models.scoring import as_matrix

    (table_l, _), (table_p, _) = tables["raw path (linked)"], tables["pre-linked"]
    result_l, result_p = results["raw path (linked)"], results["pre-linked"]
    test_p = table_p.iloc[result_p.split.test].copy()
    test_l = table_l.iloc[result_l.split.test].set_index(["child_id", "snapshot_date"])
    test_p["linked_id"] = test_p["child_id"].map(ids)
    key = pd.MultiIndex.from_arrays([test_p["linked_id"], test_p["snapshot_date"]])
    label = label_column(outcome)
    both = test_p[key.isin(test_l.index) & test_p[label].notna()].reset_index(drop=True)
    rows_l = test_l.loc[list(zip(both["linked_id"], both["snapshot_date"], strict=True))]
    y = both[label].to_numpy(dtype=float)
    ages = both["age_years"].to_numpy(dtype=float)
    p_p = result_p.model.predict_proba(as_matrix(both, result_p.model.features))
    p_l = result_l.model.predict_proba(as_matrix(rows_l.reset_index(), result_l.model.features))
    gap = within_age_auc(y, p_l, ages) - within_age_auc(y, p_p, ages)
    rng = np.random.default_rng(0)
    draws = []
    for _ in range(replicates):
        i = rng.integers(0, len(y), len(y))
        draws.append(within_age_auc(y[i], p_l[i], ages[i]) - within_age_auc(y[i], p_p[i], ages[i]))
    low, high = np.nanpercentile(draws, [2.5, 97.5])
    return float(gap), float(low), float(high), len(y)
