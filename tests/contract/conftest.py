"""Fixtures for the contract tests: the hand-made valid extracts, written in each format."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from contract_fixtures import TODAY, Files, valid_tables

from features.contract import write_extracts


@pytest.fixture
def tables() -> dict[str, pd.DataFrame]:
    """The hand-made valid tables, in memory."""
    return valid_tables()


@pytest.fixture(params=["csv", "parquet"])
def fmt(request) -> str:
    """Each file format in turn."""
    return request.param


@pytest.fixture(scope="session")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The hand-made valid extracts written once per format (filled in as first asked for)."""
    return {"root": tmp_path_factory.mktemp("valid_extracts")}


@pytest.fixture
def folder(tmp_path: Path, fmt: str, written: dict[str, Path]) -> Path:
    """The hand-made valid extracts in the format under test, in a folder of the test's own
    (a copy of the ones written once: tests break their copy)."""
    if fmt not in written:
        written[fmt] = write_extracts(
            valid_tables(), written["root"] / fmt, format=fmt, today=TODAY
        )
    return Path(shutil.copytree(written[fmt], tmp_path / "extracts"))


@pytest.fixture
def files(folder: Path) -> Files:
    """Editor for the files of the valid folder under test."""
    return Files(folder)
