"""Write a linkage run: the contract's extracts, and the linkage beside them.

``DIR/extracts/`` holds the contract tables (no identity field); ``DIR/linkage/`` the
crosswalk, the review file, the trained model, the report and the partnership's linkage
key. Nothing is written until the extracts pass the contract; each folder is staged and
swapped into place whole.
"""

from __future__ import annotations

import json
import secrets
import shutil
from pathlib import Path

import pandas as pd

from features.contract import ContractError, validate_tables, write_extracts
from linkage.link import Linked
from linkage.quality import LinkageQuality
from linkage.report import render_html

EXTRACTS = "extracts"
LINKAGE = "linkage"
CROSSWALK = "crosswalk.parquet"
REVIEW = "review.csv"
KEY_FILE = "key"
CONFIDENCE = "confidence.parquet"
"""Per child and agency, the lowest confidence of its linked records: what a prompt says of
the linkage (``lantern serve --linkage DIR/linkage``). No record reference is in it."""


def confidence(crosswalk: pd.DataFrame, children: set[str]) -> pd.DataFrame:
    """``child_id, source, confidence``: each agency's least confident record of each child
    in the extracts."""
    held = crosswalk[crosswalk["child_id"].isin(children)]
    lowest = held.groupby(["child_id", "source"], as_index=False)["match_probability"].min()
    return lowest.rename(columns={"match_probability": "confidence"})


def linkage_key(out: Path, previous: Path | None = None) -> bytes:
    """The partnership's linkage key: from ``out`` or the previous run's folder, else new."""
    for folder in (Path(out) / LINKAGE, previous):
        if folder is not None and (Path(folder) / KEY_FILE).exists():
            return bytes.fromhex((Path(folder) / KEY_FILE).read_text().strip())
    return secrets.token_bytes(32)


def previous_crosswalk(out: Path, previous: Path | None) -> pd.DataFrame | None:
    """The crosswalk of the last run: ``previous`` (a linkage folder or file), else ``out``'s."""
    for candidate in ([previous] if previous else []) + [Path(out) / LINKAGE]:
        path = Path(candidate)
        path = path / CROSSWALK if path.is_dir() else path
        if path.exists():
            return pd.read_parquet(path)
    if previous:
        raise FileNotFoundError(
            f"no crosswalk at {previous}; give a linkage folder or its {CROSSWALK}"
        )
    return None


def write_linked(
    linked: Linked, quality: LinkageQuality, key: bytes, out: Path, *, format: str = "parquet"
) -> Path:
    """Write the run to ``out``; raises :class:`ContractError` before writing if the
    linked extracts break the contract."""
    problems = validate_tables(linked.tables)
    if problems:
        raise ContractError(problems)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    staging = out / f".{LINKAGE}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    linked.crosswalk.to_parquet(staging / CROSSWALK, index=False)
    confidence(linked.crosswalk, set(linked.tables["children"]["child_id"])).to_parquet(
        staging / CONFIDENCE, index=False
    )
    linked.review.to_csv(staging / REVIEW, index=False)
    (staging / "model.json").write_text(json.dumps(linked.model, indent=1, default=str))
    (staging / KEY_FILE).write_text(key.hex())
    (staging / KEY_FILE).chmod(0o600)
    report = {
        "settings": linked.settings.model_dump(),
        "seconds": linked.seconds,
        **quality.to_dict(),
    }
    (staging / "report.json").write_text(json.dumps(report, indent=1, default=_plain))
    (staging / "report.html").write_text(
        render_html(quality, threshold=linked.settings.threshold, seconds=linked.seconds)
    )
    write_extracts(linked.tables, out / EXTRACTS, format=format, validate=False)
    final = out / LINKAGE
    old = out / f".{LINKAGE}.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    staging.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return out


def _plain(value):
    if hasattr(value, "item"):
        return value.item()
    return str(value)
