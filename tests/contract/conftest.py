"""Fixtures for the contract tests: the hand-made valid extracts, written in each format."""

from __future__ import annotations

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


@pytest.fixture
def folder(tmp_path: Path, fmt: str) -> Path:
    """The hand-made valid extracts written to a folder in the format under test."""
    return write_extracts(valid_tables(), tmp_path / "extracts", format=fmt, today=TODAY)


@pytest.fixture
def files(folder: Path) -> Files:
    """Editor for the files of the valid folder under test."""
    return Files(folder)
