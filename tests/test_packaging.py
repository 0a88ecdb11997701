"""The wheel a non-editable install gets carries every file the packages read at run time."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def package_folders() -> list[str]:
    """The top-level package folders ``pyproject.toml`` ships."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return [p.rstrip("*") for p in patterns]


def tracked(*paths: str) -> list[str]:
    """The files git tracks under ``paths`` (the working copies, edits included)."""
    listed = subprocess.run(
        ["git", "ls-files", "--", *paths], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return [f for f in listed.stdout.splitlines() if (ROOT / f).is_file()]


def test_the_wheel_holds_every_data_file_the_packages_keep(tmp_path):
    data = {f for f in tracked(*package_folders()) if not f.endswith(".py")}
    assert {"training/training.yaml", "serving/ui/index.html"} <= data  # the two once missing
    # built from the tracked files alone, as from a fresh clone: an editable install's
    # egg-info beside the code would list the data files and hide a missing declaration
    source = tmp_path / "source"
    for name in tracked("."):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
        + ["--wheel-dir", str(tmp_path / "wheel"), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "wheel").glob("lantern-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(data - shipped)
    assert not missing, f"add these to [tool.setuptools.package-data] in pyproject.toml: {missing}"
