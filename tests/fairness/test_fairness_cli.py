"""`lantern audit` through the real installed command, on the COMPAS file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fairness_fixtures import COMPAS_CSV, NO_COMPAS, PROPUBLICA_FILTERS

from fairness.schema import validate_document

LANTERN = str(Path(sys.executable).with_name("lantern"))
pytestmark = pytest.mark.skipif(not COMPAS_CSV.exists(), reason=NO_COMPAS)


def lantern(*args) -> subprocess.CompletedProcess:
    env = {
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "BENTOML_DO_NOT_TRACK": "true",
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "200",
    }
    return subprocess.run([LANTERN, *map(str, args)], capture_output=True, text=True, env=env)


def compas_args(out: Path) -> list[str]:
    args = [
        "audit",
        "--scores",
        COMPAS_CSV,
        "--score-col",
        "decile_score",
        "--label-col",
        "two_year_recid",
        "--group-cols",
        "race,sex",
        "--threshold",
        5,
        "--reference",
        "race=Caucasian",
        "--population",
        "people",
        "--purpose",
        "Reproduce ProPublica's 2016 analysis of COMPAS scores.",
        "--label-definition",
        "a new arrest within two years of the COMPAS screening",
        "--n-boot",
        200,
        "--out",
        out,
    ]
    for expr in PROPUBLICA_FILTERS:
        args += ["--filter", expr]
    return args


@pytest.fixture(scope="module")
def compas_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("compas")
    return lantern(*compas_args(out)), out


def test_cli_writes_both_files_and_exits_0(compas_run, compas):
    done, out = compas_run
    assert done.returncode == 0, done.stderr + done.stdout
    doc = json.loads((out / "fairness.json").read_text())
    validate_document(doc)
    assert doc["n"] == len(compas) == 6172
    assert "6,172 kept" in doc["context"]["source"]
    html = (out / "fairness.html").read_text()
    assert "Reproduce ProPublica" in html and "people" in html
    rates = {
        (m["group"], m["metric"]): m["value"]
        for m in doc["metrics"]
        if m["grouping"] == "race" and m["outcome"] == "recorded"
    }
    assert abs(rates[("African-American", "fpr")] - 0.42) < 0.02
    assert abs(rates[("Caucasian", "fnr")] - 0.50) < 0.02


def test_cli_summary_highlights_flags_and_suppression(compas_run):
    done, _ = compas_run
    assert "FLAG" in done.stdout
    assert "suppressed (fewer than 10 people)" in done.stdout
    assert "Native American × Female" in done.stdout
    assert "fairness policy: FAILED" in done.stdout
    assert "wrote" in done.stdout


def test_cli_errors_say_what_is_wrong(tmp_path):
    done = lantern(
        "audit",
        "--scores",
        COMPAS_CSV,
        "--score-col",
        "decile_score",
        "--label-col",
        "two_year_recid",
        "--group-cols",
        "ethnicity",
        "--threshold",
        5,
        "--out",
        tmp_path,
    )
    assert done.returncode == 1
    assert "group column 'ethnicity' is not in the data" in done.stdout
    assert "race" in done.stdout
    assert not (tmp_path / "fairness.json").exists()
    done = lantern(
        "audit",
        "--scores",
        COMPAS_CSV,
        "--score-col",
        "decile_score",
        "--label-col",
        "priors_count",
        "--group-cols",
        "race",
        "--threshold",
        5,
        "--out",
        tmp_path,
    )
    assert done.returncode == 1 and "must hold only 0 and 1" in done.stdout
    assert "--filter" in done.stdout
    done = lantern(
        "audit",
        "--scores",
        COMPAS_CSV,
        "--score-col",
        "decile_score",
        "--label-col",
        "two_year_recid",
        "--group-cols",
        "race",
        "--top-k",
        100,
        "--filter",
        "no_such_column > 1",
        "--out",
        tmp_path,
    )
    assert done.returncode == 1 and "filter 'no_such_column > 1' failed" in done.stdout


def test_cli_help_lists_the_options():
    done = lantern("audit", "--help")
    assert done.returncode == 0
    for option in (
        "--scores",
        "--threshold",
        "--top-k",
        "--filter",
        "--baseline-col",
        "--true-label-col",
        "--reference",
        "--previous",
        "--label-definition",
    ):
        assert option in done.stdout
