"""Run the benchmark suite and write docs/benchmarks.md.

Each stage runs in its own process so its peak resident memory is its own. Speed targets
live here, never in timed tests. Every figure with a target is marked met (✓) or missed (✗)
in the report, and a miss makes the run exit 1 (``--warn-timing``: a missed speed target,
which depends on the machine, only warns).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

STAGES = {
    "synth": (
        "from features.synth import SynthConfig, generate, write_partnership\n"
        "p = generate(SynthConfig(children={children}, years={years}, seed=7))\n"
        "write_partnership(p, r'{data}')\n"
    ),
    "validate": ("from features.contract import load_extracts\nload_extracts(r'{data}')\n"),
    "features": (
        "from features.build import build_features, default_snapshot_dates, write_table\n"
        "from features.contract import load_extracts\n"
        "from features.pointintime import index_records\n"
        "records = index_records(load_extracts(r'{data}').tables())\n"
        "dates = default_snapshot_dates(records)\n"
        "table = build_features(records, dates)\n"
        "write_table(table, r'{data}/features.parquet')\n"
        "print(len(dates), len(table))\n"
    ),
    "train": (
        "import json\n"
        "from benchmarks.quality import bench_training\n"
        "note, checks, lines = bench_training(r'{data}')\n"
        "print(note)\n"
        "print('CHECKS', json.dumps(checks))\n"
        "print('SECTION', json.dumps(lines))\n"
    ),
    "audit": (
        "import json, time\n"
        "import numpy as np, pandas as pd\n"
        "from fairlearn.metrics import MetricFrame, false_negative_rate, selection_rate\n"
        "from fairness import audit\n"
        "from training.fairness_audit import GROUPS, INTERSECTIONS\n"
        "from models.scoring import ScoringModel, as_matrix\n"
        "from training.evaluation import labelled_truth\n"
        "table = pd.read_parquet(r'{data}/features.parquet')\n"
        "truth = pd.read_parquet(r'{data}/ground_truth/outcome_probabilities.parquet')\n"
        "model = ScoringModel.load(r'{data}/models/serious_violence')\n"
        "label = 'label_serious_violence'\n"
        "date = table.loc[table[label].notna(), 'snapshot_date'].max()\n"
        "rows = table[table['snapshot_date'] == date].reset_index(drop=True)\n"
        "rows['score'] = model.predict_proba(as_matrix(rows, model.features))\n"
        "everyone = labelled_truth(table, truth, 'serious_violence')\n"
        "rows = rows.merge(everyone[['child_id', 'snapshot_date', 'true_label']], "
        "on=['child_id', 'snapshot_date'])\n"
        "t = time.perf_counter()\n"
        "r = audit(rows, score='score', label=label, groups=GROUPS, top_k=0.02, "
        "true_label='true_label', intersections=INTERSECTIONS, n_boot=1000, seed=0, "
        "cluster='child_id', recording_rows=everyone)\n"
        "ours = time.perf_counter() - t\n"
        "y = rows[label].to_numpy().astype(int)\n"
        "k = int(np.ceil(0.02 * len(rows)))\n"
        "flag = np.zeros(len(rows), int)\n"
        "flag[np.argsort(-rows['score'].to_numpy(), kind='stable')[:k]] = 1\n"
        "rng = np.random.default_rng(0)\n"
        "t = time.perf_counter()\n"
        "for _ in range(5):\n"
        "    i = rng.integers(0, len(rows), len(rows))\n"
        "    for g in GROUPS + [list(p) for p in INTERSECTIONS]:\n"
        "        MetricFrame(metrics={{'fnr': false_negative_rate, 'sel': selection_rate}}, "
        "y_true=y[i], y_pred=flag[i], sensitive_features=rows[g].iloc[i])\n"
        "theirs = (time.perf_counter() - t) / 5 * 1000\n"
        "d = r.disparities\n"
        "black = d[(d.grouping == 'ethnicity') & (d.group == 'Black') & "
        "(d.metric == 'recording_ratio')].iloc[0]\n"
        "print(f'{{len(rows):,}} children, 5 groupings, 1,000 replicates; Black/White recording "
        "disparity {{black.ratio:.2f}} ({{black.low:.2f}}-{{black.high:.2f}}) on "
        "{{r.recording_n:,}} labelled rows')\n"
        "what = f'fairness audit, {{len(rows):,}} children x 1,000 replicates (every metric, 5 "
        "groupings, recorded + true outcomes)'\n"
        "print('ROWS', json.dumps([{{'what': what, 'value': ours, 'unit': 's', "
        "'reference': 'Fairlearn MetricFrame, 2 metrics x 5 groupings, per replicate x 1,000 "
        "(timed on 5)', 'reference_value': theirs, 'target': '< 60 s'}}]))\n"
    ),
    "explain": (
        "import json, pandas as pd\n"
        "from benchmarks.explain import bench_explanations\n"
        "from models.scoring import ScoringModel, as_matrix\n"
        "table = pd.read_parquet(r'{data}/features.parquet')\n"
        "latest = table[table['snapshot_date'] == table['snapshot_date'].max()]\n"
        "rows = []\n"
        "for outcome in ('exclusion_neet', 'serious_violence'):\n"
        "    model = ScoringModel.load(r'{data}/models/' + outcome)\n"
        "    rows += bench_explanations(model, as_matrix(latest, model.features), "
        "stage=outcome)\n"
        "print(f'{{len(latest):,}} children, both models')\n"
        "print('ROWS', json.dumps(rows))\n"
    ),
    "serve": (
        "import json\n"
        "from benchmarks.serving import bench_serving\n"
        "rows = bench_serving(r'{data}')\n"
        "print('served over HTTP by bentoml serve, in-process beside it')\n"
        "print('ROWS', json.dumps(rows))\n"
    ),
    "compas": (
        "from training.config import load_training_settings\n"
        "from training.tabular import fit_tabular, load_tabular_config\n"
        "out = []\n"
        "for name in ('compas_two_year', 'compas_violent'):\n"
        "    r = fit_tabular(load_tabular_config(f'docs/examples/{{name}}.yaml'), "
        "load_training_settings())\n"
        "    m = r.metrics\n"
        "    out.append(f\"{{name}}: Lantern AUC {{m['lantern'].format('auc')}}, accuracy \"\n"
        "               f\"{{r.accuracy['lantern']:.3f}}; COMPAS AUC \"\n"
        "               f\"{{m['reference'].point['auc']:.3f}}, accuracy {{r.accuracy['reference']:.3f}} \"\n"
        '               f"({{len(r.test)}} test rows)")\n'
        "print('; '.join(out))\n"
    ),
    "directions": (
        "import json\n"
        "from benchmarks.directions import bench_directions\n"
        "note, checks, lines = bench_directions(r'{data}')\n"
        "print(note)\n"
        "print('CHECKS', json.dumps(checks))\n"
        "print('SECTION', json.dumps(lines))\n"
    ),
    "link": (
        "import json\n"
        "from benchmarks.linkage import bench_linkage\n"
        "note, checks, lines = bench_linkage(r'{data}')\n"
        "print(note)\n"
        "print('CHECKS', json.dumps(checks))\n"
        "print('SECTION', json.dumps(lines))\n"
    ),
    "raw_path": (
        "import json\n"
        "from benchmarks.linkage import bench_raw_path\n"
        "note, checks, lines = bench_raw_path(r'{data}')\n"
        "print(note)\n"
        "print('CHECKS', json.dumps(checks))\n"
        "print('SECTION', json.dumps(lines))\n"
    ),
    "label_bias": (
        "import json\n"
        "from benchmarks.label_bias import bench_label_bias\n"
        "note, checks, lines = bench_label_bias({children})\n"
        "print(note)\n"
        "print('CHECKS', json.dumps(checks))\n"
        "print('SECTION', json.dumps(lines))\n"
    ),
}

NEEDS = {
    "validate": ["synth"],
    "features": ["synth"],
    "train": ["synth", "features"],
    "audit": ["synth", "features", "train"],
    "explain": ["synth", "features", "train"],
    "serve": ["synth", "features"],
    "compas": [],
    "directions": ["synth", "features"],
    "link": ["synth"],
    "raw_path": ["synth", "features", "link"],
    "label_bias": [],
}


def needed_by(stages: list[str]) -> set[str]:
    """Every stage the given stages need first."""
    return {need for stage in stages for need in NEEDS[stage]}


TIMER = (
    "import resource, sys, time\n"
    "_started = time.perf_counter()\n"
    "exec(sys.stdin.read(), {'__name__': '__main__'})  # its own names: a stage's t is not ours\n"
    "print('BENCH', time.perf_counter() - _started, "
    "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
)


def run_stage(code: str) -> tuple[float, float, str, list[dict], list[dict], list[str]]:
    """Run ``code`` in a fresh interpreter; return seconds, peak MB, its other output, the
    side-by-side rows it printed (``ROWS <json>`` lines), its target checks (``CHECKS``) and
    the report lines of its own section (``SECTION``)."""
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "BENTOML_DO_NOT_TRACK": "true"}
    done = subprocess.run(
        [sys.executable, "-c", TIMER],
        input=code,
        text=True,
        capture_output=True,
        env=env,
        check=True,
    )
    lines = done.stdout.strip().splitlines()
    _, seconds, peak = lines[-1].split()
    compared = [r for line in lines[:-1] if line.startswith("ROWS ") for r in json.loads(line[5:])]
    checks = [r for line in lines[:-1] if line.startswith("CHECKS ") for r in json.loads(line[7:])]
    section = [
        x for line in lines[:-1] if line.startswith("SECTION ") for x in json.loads(line[8:])
    ]
    tagged = ("ROWS ", "CHECKS ", "SECTION ")
    note = " ".join(line for line in lines[:-1] if not line.startswith(tagged))
    return float(seconds), float(peak), note, [side_by_side(r) for r in compared], checks, section


def side_by_side(row: dict) -> dict:
    """A compared measurement in one shape: what, value, unit, reference, its value, target."""
    if "seconds" in row:  # benchmarks.explain's rows
        what = f"{row['stage']}: {row['what']}"
        if row.get("max_abs_diff") is not None:
            what += f" (largest difference {row['max_abs_diff']:.1e})"
        check = row.get("check")
        target = row.get("target", "")
        if check and not target:
            ratio = check.get("on") == "ratio"
            target = f"{check['op']} {check['bound']:g}" + ("x faster" if ratio else "")
        row = {
            "what": what,
            "value": row["seconds"],
            "unit": row.get("unit", "s"),
            "reference": row["reference"],
            "reference_value": row["reference_seconds"],
            "target": target,
        } | ({"check": check} if check else {})
    return row


def speedup(row: dict) -> str:
    """How many times faster (or more) than the reference, measured in the same run."""
    ref, value = row.get("reference_value"), row["value"]
    if ref is None or not value:
        return ""
    faster = value / ref if row["unit"].endswith("/s") else ref / value
    return f"{faster:.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--children", type=int, default=40_000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument(
        "--only", nargs="+", choices=list(STAGES), help="run only these stages (and what they need)"
    )
    parser.add_argument(
        "--warn-timing",
        action="store_true",
        help="a missed speed target (machine-dependent) only warns; other misses still fail",
    )
    args = parser.parse_args()
    rows, checks, sections = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "partnership"
        for stage, template in STAGES.items():
            if args.only and stage not in args.only and stage not in needed_by(args.only):
                continue
            code = template.format(children=args.children, years=args.years, data=data)
            seconds, peak, note, compared, checked, section = run_stage(code)
            rows.append((stage, seconds, peak, note, compared))
            sections += [""] + section if section else []
            checks += stage_checks(stage, seconds, compared, checked)
            print(f"{stage:10s} {seconds:7.1f} s  peak {peak:7.0f} MB  {note}", flush=True)
    write_report(args, rows, checks, sections)
    missed = [c for c in checks if not c["met"]]
    for c in missed:
        print(f"✗ {c['stage']}: {c['what']} = {c['value']:.4g} {c['unit']} (target {c['target']})")
    failing = [c for c in missed if not (args.warn_timing and c["timing"])]
    if failing:
        raise SystemExit(f"{len(failing)} of {len(checks)} targets missed (see {args.out})")


STAGE_SECONDS = {"synth": 20, "features": 60, "train": 120}
"""Stages whose whole run has a speed target, in seconds (see :data:`TARGETS`)."""

OPS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "==": lambda a, b: abs(a - b) < 1e-12,
}


def stage_checks(stage: str, seconds: float, compared: list[dict], checked: list[dict]) -> list:
    """Every target of a stage, judged: its time, its side-by-side rows that carry a ``check``
    and the quality checks it printed. A speed target is ``timing`` (machine-dependent)."""
    found = []
    if stage in STAGE_SECONDS:
        bound = STAGE_SECONDS[stage]
        found.append(
            {"what": "stage time", "value": seconds, "unit": "s", "target": f"< {bound} s"}
            | {"op": "<", "bound": bound, "timing": True}
        )
    for r in compared:
        if "check" not in r:
            continue
        value, unit = r["value"], r["unit"]
        if r["check"].get("on") == "ratio":  # how many times faster than the reference
            value, unit = r["reference_value"] / r["value"], "x"
        found.append(
            {"what": r["what"], "value": value, "unit": unit, "target": r["target"]}
            | {k: v for k, v in r["check"].items() if k != "on"}
        )
    found += [{**c, "timing": c.get("timing", False)} for c in checked]
    return [{**c, "stage": stage, "met": bool(OPS[c["op"]](c["value"], c["bound"]))} for c in found]


TARGETS = {
    "synth": "< 20 s",
    "validate": "a few s",
    "features": "< 60 s (about 12 snapshots)",
    "train": "< 120 s for both models; on the AUC within age: >= checklist and age alone + "
    "0.03, not below logistic regression, within 0.02 of the oracle (paired upper bound); "
    "ECE < 0.02; oracle 0.75-0.88",
    "audit": "< 60 s for 40,000 children x 1,000 replicates",
    "explain": "< 10 s for 40,000 children x both models; >= 10x shap.TreeExplainer",
    "serve": "p50 < 10 ms, p99 < 30 ms, >= 300 prompts/s; one audit row per request",
    "compas": "accuracy at least COMPAS's own (published about 0.65) on the same rows",
    "directions": "the constraints cost <= 0.005 AUC within age; 0 contrary features; 0 "
    "prompts with an immaterial, empty or contrary reason in their top 5",
    "link": "< 60 s; pairwise precision >= 0.995, recall >= 0.99; under 1% of records missing "
    "a match and under 0.2% falsely matched; every ethnic group's F1 within 0.01 of the best",
    "raw_path": "both models' AUC within age on the linked extracts within 0.01 of the pre-linked",
    "label_bias": "London mix: bias 1.5 flagged in >= 9/10 seeds; none and equal "
    "under-recording in <= 1/10",
}


DETAILS = {
    "synth": "generate and write the extracts and ground truth",
    "validate": "load and validate every extract against the contract",
    "features": "point-in-time features and labels, default quarterly snapshots "
    "(snapshots, rows: {note})",
    "train": "both models, without MLflow logging (test period, held-out children; paired "
    "differences with 95% intervals): {note}",
    "audit": "the violence model scored for every child at the test date, audited with "
    "true outcomes and the recording disparity on every labelled row: {note}",
    "explain": "exact TreeSHAP for every child at the newest snapshot: {note}",
    "serve": "train, register and promote both models, start the service, then measure: {note}",
    "compas": "bring-your-own-data on ProPublica's COMPAS files (docs/examples), at "
    "threshold 0.5 vs COMPAS decile >= 5: {note}",
    "directions": "both models trained with and without the registry's direction "
    "constraints on the same split (see its section below): {note}",
    "link": "the raw agency extracts linked back into children, against the truth and "
    "beside linkage on the identifiers alone (see its section below): {note}",
    "raw_path": "both models trained on the linked and on the pre-linked extracts (see its "
    "section below): {note}",
    "label_bias": "the label-bias check on 10 partnerships per setting (see its section "
    "below): {note}",
}
"""What each stage measures, in the report's detail column ({note}: its output)."""


def write_report(args, rows, checks, sections=()) -> None:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m benchmarks`); do not edit by hand. Each stage runs "
        "in its own process; peak memory is that process's maximum resident set size.",
        "",
        f"Measured {when} on {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"for the default synthetic partnership: {args.children:,} children, {args.years} years "
        "(plus a year of history), seed 7.",
        "",
        "| stage | time (s) | peak memory (MB) | target | detail |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for stage, seconds, peak, note, _ in rows:
        detail = DETAILS[stage].format(note=note)
        lines.append(f"| {stage} | {seconds:.1f} | {peak:.0f} | {TARGETS[stage]} | {detail} |")
    compared = [(stage, r) for stage, *_, rs in rows for r in rs]
    if compared:
        lines += [
            "",
            "## Side by side",
            "",
            "Each figure beside its reference, measured in the same run on the same data; the "
            "ratio is how many times faster (or, for rates, how many times more) Lantern's "
            "figure is.",
            "",
            "| stage | measure | Lantern | reference | reference figure | ratio | target |",
            "| --- | --- | ---: | --- | ---: | ---: | --- |",
        ]
        for stage, r in compared:
            ref = r.get("reference_value")
            lines.append(
                f"| {stage} | {r['what']} | {r['value']:.4g} {r['unit']} | {r.get('reference') or ''}"
                f" | {'' if ref is None else f'{ref:.4g}'} | {speedup(r)} | {r.get('target', '')} |"
            )
    if checks:
        missed = sum(not c["met"] for c in checks)
        lines += [
            "",
            "## Targets",
            "",
            f"{len(checks) - missed} of {len(checks)} targets met; ✗ marks a miss (a speed "
            "target depends on the machine; every other target is a property of Lantern).",
            "",
            "| | stage | measure | figure | target |",
            "| --- | --- | --- | ---: | --- |",
            *[
                f"| {'✓' if c['met'] else '✗'} | {c['stage']} | {c['what']} | "
                f"{c['value']:.4g} {c['unit']} | {c['target']} |"
                for c in checks
            ],
        ]
    serving = {r["key"]: r for stage, r in compared if stage == "serve" and "key" in r}
    if serving:
        lines += ["", *where_serving_time_goes(serving)]
    lines += list(sections)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(json.dumps({"written": str(args.out)}))


def where_serving_time_goes(rows: dict[str, dict]) -> list[str]:
    """The serving section's account of one prompt's cost, from this run's figures."""
    cpu, client, p50 = rows["cpu"], rows["client_cpu"]["value"], rows["p50"]
    prompt = p50["reference_value"]
    return [
        "## Where the serving time goes",
        "",
        "CPU per prompt over HTTP, counted per thread of the service's worker processes "
        "(psutil) while 16 clients ran; found first with py-spy (`py-spy record -p <worker>`), "
        "which showed the worker's event loop waiting on the interpreter lock while a writer "
        "thread committed audit rows.",
        "",
        f"- The service spent {cpu['value']:.2f} ms of CPU per prompt, of which building the "
        f"prompt itself (both models explained; in-process p50) is about {prompt:.2f} ms. The "
        "rest is HTTP parsing, BentoML's request handling and metrics, the key check, and "
        "the group commit of the audit row with the prompt it answered.",
        f"- Committing the audit rows from a writer thread instead of the event loop cost "
        f"{cpu['reference_value']:.2f} ms per prompt and gave "
        f"{rows['writer']['reference_value']:.0f} prompts/s against "
        f"{rows['writer']['value']:.0f}.",
        f"- The 16 clients ran on the same two cores and used {client:.2f} ms of CPU per prompt.",
        "- The service runs two worker processes (`ServiceSettings.workers`): one event loop, "
        f"at {cpu['value']:.2f} ms per prompt, could not pass {1000 / cpu['value']:.0f} "
        "prompts/s.",
    ]


if __name__ == "__main__":
    main()
