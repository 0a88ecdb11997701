"""The linkage stage of ``make bench``: the partnership's raw agency extracts linked back into
children, timed, and measured against the truth of who is who.

Beside it, on the same records in the same run: deterministic linkage on the identifiers
alone (a shared UPN or NHS number), the shape of the hospital-records method the seed facts
cite (4.1% missed at 0.2% false there).
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

F1_GAP = 0.01
"""The issue's bound: every ethnic group's F1 within this of the best group's."""


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
