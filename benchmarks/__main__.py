"""Run the benchmark suite and write docs/benchmarks.md.

Each stage runs in its own process so its peak resident memory is its own. Speed targets
live here, never in timed tests.
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
        "import pandas as pd\n"
        "from training.config import load_training_settings\n"
        "from training.pipeline import train_outcome\n"
        "table = pd.read_parquet(r'{data}/features.parquet')\n"
        "truth = pd.read_parquet(r'{data}/ground_truth/outcome_probabilities.parquet')\n"
        "settings = load_training_settings()\n"
        "out = []\n"
        "for outcome in ('exclusion_neet', 'serious_violence'):\n"
        "    m = train_outcome(table, outcome, settings, ground_truth=truth).evaluation.metrics\n"
        "    out.append(f\"{{outcome}}: AUC {{m['lantern'].format('auc')}}, rule \"\n"
        "               f\"{{m['indicator_count'].point['auc']:.3f}}, logistic \"\n"
        "               f\"{{m['logistic'].point['auc']:.3f}}, oracle {{m['oracle'].point['auc']:.3f}}, \"\n"
        "               f\"ECE {{m['lantern'].point['ece']:.4f}}, precision@2% \"\n"
        "               f\"{{m['lantern'].point['precision_at_k']:.3f}}\")\n"
        "print('; '.join(out))\n"
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
}

TIMER = (
    "import resource, sys, time\n"
    "t = time.perf_counter()\n"
    "exec(sys.stdin.read())\n"
    "print('BENCH', time.perf_counter() - t, "
    "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
)


def run_stage(code: str) -> tuple[float, float, str]:
    """Run ``code`` in a fresh interpreter; return seconds, peak MB and its other output."""
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
    return float(seconds), float(peak), " ".join(lines[:-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--children", type=int, default=40_000)
    parser.add_argument("--years", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "partnership"
        for stage, template in STAGES.items():
            code = template.format(children=args.children, years=args.years, data=data)
            seconds, peak, note = run_stage(code)
            rows.append((stage, seconds, peak, note))
            print(f"{stage:10s} {seconds:7.1f} s  peak {peak:7.0f} MB  {note}", flush=True)
    write_report(args, rows)


TARGETS = {
    "synth": "< 20 s",
    "validate": "a few s",
    "features": "< 60 s (about 12 snapshots)",
    "train": "< 120 s for both models; AUC >= rule + 0.05, within 0.02 of the oracle; ECE < 0.02",
    "compas": "accuracy at least COMPAS's own (published about 0.65) on the same rows",
}


def write_report(args, rows) -> None:
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
    details = {
        "synth": "generate and write the extracts and ground truth",
        "validate": "load and validate every extract against the contract",
        "features": "point-in-time features and labels, default quarterly snapshots "
        "(snapshots, rows: {note})",
        "train": "both models, without MLflow logging (test period, held-out children): {note}",
        "compas": "bring-your-own-data on ProPublica's COMPAS files (docs/examples), at "
        "threshold 0.5 vs COMPAS decile >= 5: {note}",
    }
    for stage, seconds, peak, note in rows:
        detail = details[stage].format(note=note)
        lines.append(f"| {stage} | {seconds:.1f} | {peak:.0f} | {TARGETS[stage]} | {detail} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(json.dumps({"written": str(args.out)}))


if __name__ == "__main__":
    main()
