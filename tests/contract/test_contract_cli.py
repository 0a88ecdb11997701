"""`lantern validate` and `lantern contract`, run as the installed command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from contract_fixtures import Files

from features.contract.docs import render_contract_markdown

LANTERN = Path(sys.executable).parent / "lantern"


def lantern(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "BENTOML_DO_NOT_TRACK": "true"}
    return subprocess.run(
        [str(LANTERN), *map(str, args)], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.fixture(autouse=True)
def _installed():
    if not LANTERN.exists():
        pytest.fail(f"{LANTERN} is missing: install the project with `make venv`")


def test_valid_extracts_exit_0(folder: Path):
    done = lantern("validate", folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid: 9 tables, 51 rows" in done.stdout


def test_broken_extracts_exit_1_naming_table_column_and_rows(folder: Path, files: Files):
    files.set("school_census", "sessions_missed", {2: "abc", 5: "x"})
    files.set("police", "role", {4: "witness"})
    files.path("health").unlink()
    done = lantern("validate", folder)
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    for text in ("school_census", "sessions_missed", "rows 2 and 5", "whole number"):
        assert text in out
    for text in ("police", "role", "row 4", "'witness'", "health", "3 problems"):
        assert text in out


def test_missing_folder_exits_1(tmp_path: Path):
    done = lantern("validate", tmp_path / "nowhere")
    assert done.returncode == 1
    assert "does not exist" in done.stdout


def test_today_option(folder: Path):
    done = lantern("validate", folder, "--today", "2024-06-01")
    assert done.returncode == 1
    assert "dates after today (2024-06-01)" in done.stdout


def test_contract_prints_and_writes_the_markdown(tmp_path: Path):
    printed = lantern("contract")
    assert printed.returncode == 0
    assert printed.stdout == render_contract_markdown()
    out = tmp_path / "docs" / "contract.md"
    written = lantern("contract", "--out", out)
    assert written.returncode == 0
    assert out.read_text(encoding="utf-8") == render_contract_markdown()


@pytest.mark.parametrize("command", ["validate", "contract"])
def test_help(command: str):
    done = lantern(command, "--help")
    assert done.returncode == 0
    assert "data contract" in done.stdout
