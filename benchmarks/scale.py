"""The large benchmark: the pipeline at regional sizes, single-machine beside Dask.

For each size (children aged 10-17 on the last anchor; default 40k, 250k and 1M) it runs, each
stage in its own process: the synthetic region, features with pandas (where it fits) and on a
Dask LocalCluster, both models trained on one machine and on the cluster (without MLflow
logging), and batch scores and explanations on the cluster. A stage's peak memory is the
largest total resident memory of its whole process tree (the stage and its Dask workers),
sampled every 0.1 s; its CPU time is the tree's user and system time.

The generator's memory grows faster than its size (about 0.5 GB at 40k children, 5 GB at
250k), so a region larger than ``chunk`` children is generated as several partnerships of at
most ``chunk`` children each (their own seeds, ids, areas and schools) and pooled into one
set of extracts: a region is several partnerships' records together.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SIZES = (40_000, 250_000, 1_000_000)
CHUNK = 250_000
PANDAS_MAX = 250_000
"""Largest size whose features are also built by pandas in one process (4.6 GB at 250k)."""
BOOTSTRAP = 20
OUTCOMES = ("exclusion_neet", "serious_violence")

PREAMBLE = "import os, sys, time\nsys.path.insert(0, {root!r})\n"

STAGES = {
    "synth chunk": (
        "from features.synth import SynthConfig, generate, write_partnership\n"
        "p = generate(SynthConfig(children={children}, years={years}, seed={seed}))\n"
        "write_partnership(p, {folder!r})\n"
        "print(f\"{{len(p.tables['children']):,}} children in the extracts\")\n"
    ),
    "synth pool": (
        "from benchmarks.scale import pool_partnerships\n"
        "print(pool_partnerships({chunks!r}, {data!r}))\n"
    ),
    "features pandas": (
        "from features.build import build_features, default_snapshot_dates, write_table\n"
        "from features.contract import load_extracts\n"
        "from features.pointintime import index_records\n"
        "records = index_records(load_extracts({data!r}).tables())\n"
        "table = build_features(records, default_snapshot_dates(records))\n"
        "write_table(table, {data!r} + '/features-pandas.parquet')\n"
        "print(f'{{len(table):,}} rows')\n"
    ),
    "features dask": (
        "from features.distributed import ClusterSettings, build_features_dask, dates_rule, "
        "open_client\n"
        "with open_client(ClusterSettings(n_workers={workers})) as client:\n"
        "    t = build_features_dask({data!r}, dates_rule(), client, "
        "out={data!r} + '/features.parquet')\n"
        "    print(f'{{len(t):,}} rows, {{t.npartitions}} snapshots')\n"
    ),
    "train pandas": (
        "import pandas as pd\n"
        "from benchmarks.scale import describe\n"
        "from training.config import load_training_settings\n"
        "from training.pipeline import train_outcome\n"
        "table = pd.read_parquet({data!r} + '/features.parquet')\n"
        "truth = pd.read_parquet({data!r} + '/ground_truth/outcome_probabilities.parquet')\n"
        "settings = load_training_settings().model_copy(update={{'bootstrap': {bootstrap}}})\n"
        "out = []\n"
        "for outcome in {outcomes!r}:\n"
        "    r = train_outcome(table, outcome, settings, ground_truth=truth)\n"
        "    out.append(describe(r))\n"
        "r.model.save({data!r} + '/model')\n"
        "print('; '.join(out))\n"
    ),
    "train dask": (
        "import pandas as pd\n"
        "from benchmarks.scale import describe\n"
        "from features.distributed import ClusterSettings, open_client\n"
        "from training.config import load_training_settings\n"
        "from training.distributed import train_outcome_dask\n"
        "table = pd.read_parquet({data!r} + '/features.parquet')\n"
        "truth = pd.read_parquet({data!r} + '/ground_truth/outcome_probabilities.parquet')\n"
        "settings = load_training_settings().model_copy(update={{'bootstrap': {bootstrap}}})\n"
        "out = []\n"
        "with open_client(ClusterSettings(n_workers={workers})) as client:\n"
        "    for outcome in {outcomes!r}:\n"
        "        r = train_outcome_dask(table, outcome, settings, client, ground_truth=truth)\n"
        "        out.append(describe(r))\n"
        "r.model.save({data!r} + '/model-dask')\n"
        "print('; '.join(out))\n"
    ),
    "score+explain dask": (
        "from features.distributed import ClusterSettings, open_client, read_features_dask\n"
        "from explain.batch import explain_partitions, score_partitions\n"
        "from models.scoring import ScoringModel\n"
        "model = ScoringModel.load({data!r} + '/model-dask')\n"
        "with open_client(ClusterSettings(n_workers={workers})) as client:\n"
        "    ddf = read_features_dask({data!r} + '/features.parquet')\n"
        "    score_partitions(ddf, model).to_parquet({data!r} + '/scores', write_index=False)\n"
        "    explain_partitions(ddf, model).to_parquet({data!r} + '/explanations', "
        "write_index=False)\n"
        "    print(f'{{len(ddf):,}} rows scored and explained ({{model.outcome}}, "
        "{{model.booster.num_trees()}} trees)')\n"
    ),
}


@dataclass
class Measure:
    """One stage at one size."""

    children: int
    stage: str
    seconds: float
    cpu_seconds: float
    peak_mb: float
    note: str


def _tree_rss(process) -> int:
    import psutil

    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def run_measured(code: str) -> tuple[float, float, float, str]:
    """Run ``code`` in a fresh interpreter; its seconds, CPU seconds and peak memory (MB) of
    its whole process tree, and its output.

    Raises
    ------
    RuntimeError
        If the stage fails; with the end of its error output.
    """
    import psutil

    env = {
        **os.environ,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "BENTOML_DO_NOT_TRACK": "true",
        "OMP_WAIT_POLICY": "PASSIVE",
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = 0
    watched = psutil.Process(process.pid)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(watched))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    done.set()
    sampler.join()
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # The largest single process the stage waited for, in case sampling missed a spike.
    peak = max(peak, after.ru_maxrss * 1024 if after.ru_maxrss > before.ru_maxrss else 0)
    if process.returncode != 0:
        raise RuntimeError(
            f"stage failed (exit {process.returncode}) after {seconds:.0f} s, peak "
            f"{peak / 2**20:.0f} MB:\n{stderr[-3000:]}"
        )
    lines = [line for line in stdout.strip().splitlines() if line.strip()]
    return seconds, cpu, peak / 2**20, lines[-1] if lines else ""


def describe(result) -> str:
    """One trained model's figures for the table."""
    m = result.evaluation.metrics
    oracle = f", oracle {m['oracle'].point['auc']:.3f}" if "oracle" in m else ""
    return (
        f"{result.outcome}: {len(result.split.train):,} training rows, "
        f"{result.model.booster.num_trees()} trees, AUC {m['lantern'].point['auc']:.3f}"
        f"{oracle}, ECE {m['lantern'].point['ece']:.4f}"
    )


def pool_partnerships(folders: list[str], out: str) -> str:
    """Pool partnerships' extracts and ground truth into one region at ``out``.

    Each partnership's ids, areas and schools get its own prefix (``P01-``), so children
    and places of different partnerships never meet.
    """
    import shutil

    import pandas as pd

    from features.contract import write_extracts
    from features.synth.generate import EXTRACTS, GROUND_TRUTH

    prefixed = {"child_id", "related_child_id", "area", "school_id"}
    tables: dict[str, list[pd.DataFrame]] = {}
    truth: dict[str, list[pd.DataFrame]] = {}
    for i, folder in enumerate(folders):
        prefix = f"P{i + 1:02d}-"
        for kind, into in ((EXTRACTS, tables), (GROUND_TRUTH, truth)):
            for path in sorted((Path(folder) / kind).glob("*.parquet")):
                frame = pd.read_parquet(path)
                for column in prefixed & set(frame.columns):
                    frame[column] = prefix + frame[column].astype(str)
                into.setdefault(path.stem, []).append(frame)
    pooled = {name: pd.concat(parts, ignore_index=True) for name, parts in tables.items()}
    write_extracts(pooled, Path(out) / EXTRACTS, validate=False)
    (Path(out) / GROUND_TRUTH).mkdir(parents=True, exist_ok=True)
    for name, parts in truth.items():
        pd.concat(parts, ignore_index=True).to_parquet(
            Path(out) / GROUND_TRUTH / f"{name}.parquet", index=False
        )
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    return f"{len(pooled['children']):,} children in {len(folders)} partnerships"


def _stage(name: str, **values) -> str:
    root = str(Path(__file__).resolve().parent.parent)
    return PREAMBLE.format(root=root) + STAGES[name].format(**values)


def bench_size(
    children: int,
    work: Path,
    rows: list[Measure],
    log,
    *,
    years: int,
    workers: int,
    chunk: int,
    pandas_max: int,
) -> None:
    """Every stage at one size, appended to ``rows`` and passed to ``log`` as it ends; a
    failed stage is recorded, and ends the size if later stages need its output."""
    data = work / f"region-{children}"

    def run(stage: str, code: str) -> bool:
        try:
            seconds, cpu, peak, note = run_measured(code)
        except RuntimeError as err:
            rows.append(Measure(children, stage, math.nan, math.nan, math.nan, f"FAILED: {err}"))
            log(rows[-1])
            return False
        rows.append(Measure(children, stage, seconds, cpu, peak, note))
        log(rows[-1])
        return True

    n_chunks = math.ceil(children / chunk)
    sizes = [children // n_chunks + (i < children % n_chunks) for i in range(n_chunks)]
    if n_chunks == 1:
        code = _stage("synth chunk", children=children, years=years, seed=7, folder=str(data))
        if not run("synth", code):
            return
    else:
        folders = [str(work / f"chunk-{children}-{i}") for i in range(n_chunks)]
        for i, (size, folder) in enumerate(zip(sizes, folders, strict=True)):
            code = _stage("synth chunk", children=size, years=years, seed=7 + i, folder=folder)
            if not run(f"synth (partnership {i + 1} of {n_chunks})", code):
                return
        if not run("synth (pool)", _stage("synth pool", chunks=folders, data=str(data))):
            return
    common = dict(data=str(data), workers=workers, bootstrap=BOOTSTRAP, outcomes=OUTCOMES)
    if children <= pandas_max:
        run("features pandas", _stage("features pandas", **common))
    else:
        rows.append(
            Measure(children, "features pandas", math.nan, math.nan, math.nan, "not run: "
                    f"above --pandas-max {pandas_max:,} (it held 4.6 GB at 250k children)")
        )  # fmt: skip
        log(rows[-1])
    if not run("features dask", _stage("features dask", **common)):
        return
    if children <= pandas_max:
        run("train pandas (both models)", _stage("train pandas", **common))
    else:
        rows.append(
            Measure(children, "train pandas (both models)", math.nan, math.nan, math.nan,
                    f"not run: above --pandas-max {pandas_max:,} (a trial at 1M children "
                    "held 14.6 GB after 234 s and was stopped)")
        )  # fmt: skip
        log(rows[-1])
    if run("train dask (both models)", _stage("train dask", **common)):
        run("score+explain dask", _stage("score+explain dask", **common))


def write_report(out: Path, rows: list[Measure], args) -> None:
    """The markdown report of every measure so far."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Large benchmarks: the pipeline at regional sizes",
        "",
        "Written by `make bench-large` (`python -m benchmarks.scale "
        f"--sizes {' '.join(str(s) for s in args.sizes)}`"
        + (", sizes run separately and merged with `--merge`" if args.merged else "")
        + "); do not edit by hand.",
        "",
        f"Measured {when} on {os.cpu_count()} cores, "
        f"{_memory_gb():.0f} GB RAM, Python {platform.python_version()}: synthetic regions "
        f"of {args.years} years (plus a year of history), quarterly snapshots; Dask "
        f"LocalCluster of {args.workers} worker processes, 1 thread each. A region above "
        f"{args.chunk:,} children is generated as partnerships of at most {args.chunk:,} "
        "children and pooled. Each stage runs in its own process; **peak memory** is the "
        "largest total resident memory of the stage's process tree (with its Dask workers), "
        "sampled every 0.1 s; **CPU** is the tree's user + system time (on a machine shared "
        "with other work, wall time can be several times CPU / cores). Training is without "
        f"MLflow logging, {BOOTSTRAP} bootstrap replicates; the Dask booster takes its number "
        "of trees from a single-machine early stop (lightgbm.dask has none).",
        "",
        "| children | stage | wall (s) | CPU (s) | peak memory (MB) | detail |",
        "| ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        note = r.note.replace("|", "/").replace("\n", " ")[:400]
        lines.append(
            f"| {r.children:,} | {r.stage} | {_num(r.seconds)} | {_num(r.cpu_seconds)} | "
            f"{_num(r.peak_mb)} | {note} |"
        )
    lines += ["", *growth(rows)]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


def growth(rows: list[Measure]) -> list[str]:
    """How each stage's wall time, CPU time and memory grow from the smallest size."""
    sizes = sorted({r.children for r in rows})
    if len(sizes) < 2:
        return []
    lines = [
        f"How cost grows from {sizes[0]:,} children (ratio to that size; children grow "
        + ", ".join(f"x{s / sizes[0]:.2g}" for s in sizes[1:])
        + "):",
        "",
        "| stage | " + " | ".join(f"{s:,}: wall / CPU / memory" for s in sizes[1:]) + " |",
        "| --- |" + " ---: |" * (len(sizes) - 1),
    ]
    stages = dict.fromkeys(_base(r.stage) for r in rows)
    for stage in stages:
        by = {}
        for r in rows:
            if _base(r.stage) == stage and not math.isnan(r.seconds):
                s, c, m = by.get(r.children, (0.0, 0.0, 0.0))
                by[r.children] = (s + r.seconds, c + r.cpu_seconds, max(m, r.peak_mb))
        if sizes[0] not in by:
            continue
        s0, c0, m0 = by[sizes[0]]
        cells = [
            f"x{by[s][0] / s0:.1f} / x{by[s][1] / c0:.1f} / x{by[s][2] / m0:.1f}"
            if s in by
            else "-"
            for s in sizes[1:]
        ]
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    return lines


def read_report(path: Path) -> list[Measure]:
    """The measures in a report written by :func:`write_report` (to add sizes to it)."""
    rows = []
    for line in Path(path).read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 6 or not cells[0].replace(",", "").isdigit():
            continue
        children, stage, wall, cpu, peak, note = cells
        rows.append(
            Measure(int(children.replace(",", "")), stage, *map(_parse, (wall, cpu, peak)), note)
        )
    return rows


def _parse(cell: str) -> float:
    return math.nan if cell == "-" else float(cell.replace(",", ""))


def _base(stage: str) -> str:
    return stage.split(" (partnership")[0].replace(" (pool)", "")


def _num(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.0f}"


def _memory_gb() -> float:
    import psutil

    return psutil.virtual_memory().total / 2**30


def bench_large(
    sizes: tuple[int, ...] = SIZES,
    out: Path = Path("docs/benchmarks-large.md"),
    *,
    years: int = 3,
    workers: int = 2,
    chunk: int = CHUNK,
    pandas_max: int = PANDAS_MAX,
    work: Path | None = None,
    merge: tuple[Path, ...] = (),
) -> list[Measure]:
    """Measure every stage at each size and write the report (rewritten after each stage).

    Parameters
    ----------
    sizes : tuple of int
        Children aged 10-17 on the last anchor, one region per size.
    out : Path
        The markdown report to write.
    years, workers, chunk, pandas_max
        Years of snapshots; Dask workers; the largest partnership generated at once; the
        largest size also run through pandas features.
    work : Path, optional
        Where the regions are written (default: a temporary folder, removed after).
    merge : tuple of Path
        Earlier reports whose measures the new report keeps (other sizes, run apart).
    """
    rows = [r for path in merge for r in read_report(path) if r.children not in sizes]
    every = tuple(sorted({r.children for r in rows} | set(sizes)))
    args = argparse.Namespace(
        sizes=every, years=years, workers=workers, chunk=chunk, merged=bool(merge)
    )

    def log(measure: Measure) -> None:
        print(
            f"{measure.children:>9,} {measure.stage:32s} {_num(measure.seconds):>7} s "
            f"cpu {_num(measure.cpu_seconds):>7} s peak {_num(measure.peak_mb):>7} MB  "
            f"{measure.note[:300]}",
            flush=True,
        )
        write_report(out, rows, args)

    write_report(out, rows, args)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        for children in sizes:
            bench_size(
                children,
                Path(tmp),
                rows,
                log,
                years=years,
                workers=workers,
                chunk=chunk,
                pandas_max=pandas_max,
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks-large.md"))
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=CHUNK)
    parser.add_argument("--pandas-max", type=int, default=PANDAS_MAX)
    parser.add_argument("--work", type=Path, default=None, help="Folder for the regions.")
    parser.add_argument(
        "--merge", type=Path, nargs="*", default=[], help="Keep these reports' other sizes."
    )
    args = parser.parse_args()
    bench_large(
        tuple(args.sizes),
        args.out,
        years=args.years,
        workers=args.workers,
        chunk=args.chunk,
        pandas_max=args.pandas_max,
        work=args.work,
        merge=tuple(args.merge),
    )


if __name__ == "__main__":
    main()
