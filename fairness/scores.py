"""The fairness audit of a scores file: any tool's scores, read from CSV or Parquet.

A board can audit a tool Lantern did not build: a file with a score column, a 0/1 outcome
column and group columns is enough (``lantern audit --scores``). Filters (pandas ``query``
expressions, applied in order) pick the population the audit applies to, and
:class:`ScoresFile` says which rows each kept, for the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fairness.audit import audit

if TYPE_CHECKING:
    import pandas as pd

    from fairness.result import AuditResult

__all__ = ["ScoresFile", "ScoresFileError", "apply_filters", "audit_scores_file", "read_scores"]


class ScoresFileError(ValueError):
    """The scores file cannot be read or audited; the message says what to do."""


@dataclass
class ScoresFile:
    """Where the audited rows came from: the file, and the rows each filter kept."""

    path: Path
    rows_read: int
    filters: list[tuple[str, int]] = field(default_factory=list)

    def describe(self) -> str:
        """One sentence for the report: file, rows read, each filter and rows kept."""
        text = f"Read from {self.path.name}: {self.rows_read:,} rows"
        if self.filters:
            steps = "; ".join(f"{expr} ({kept:,} kept)" for expr, kept in self.filters)
            text += f"; filters applied in order: {steps}"
        return text + "."


def read_scores(path: Path) -> pd.DataFrame:
    """A CSV or Parquet scores file (by its suffix)."""
    import pandas as pd

    if not path.is_file():
        raise ScoresFileError(f"scores file {path} does not exist; give a CSV or Parquet file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    raise ScoresFileError(
        f"scores file {path} is neither .csv nor .parquet; convert it to one of those"
    )


def apply_filters(frame: pd.DataFrame, filters: list[str]) -> tuple[pd.DataFrame, list]:
    """Keep the rows matching every pandas ``query`` expression, in order.

    Returns
    -------
    frame : pandas.DataFrame
    kept : list of (str, int)
        Each expression and the rows left after it.
    """
    kept = []
    for expr in filters:
        try:
            frame = frame.query(expr)
        except Exception as err:  # pandas raises many kinds for a bad expression
            raise ScoresFileError(
                f"filter {expr!r} failed ({type(err).__name__}: {err}); a filter is a pandas "
                f"query over the file's columns, e.g. 'is_recid != -1'; columns are: "
                f"{', '.join(map(str, frame.columns))}"
            ) from None
        kept.append((expr, len(frame)))
    return frame, kept


def audit_scores_file(
    path: Path,
    *,
    score_col: str,
    label_col: str,
    group_cols: list[str],
    filters: list[str] | None = None,
    **options: Any,
) -> tuple[AuditResult, ScoresFile]:
    """Read a scores file, apply the filters and audit it.

    Parameters
    ----------
    path : Path
        CSV or Parquet, one row per scored child (or person).
    score_col, label_col : str
        Score and 0/1 outcome columns.
    group_cols : list of str
        Group columns.
    filters : list of str, optional
        pandas ``query`` expressions applied in order (e.g. ProPublica's COMPAS filters).
    **options
        Passed to :func:`fairness.audit` (threshold, top_k, true_label, baseline, ...).

    Returns
    -------
    AuditResult
    ScoresFile
        The provenance of the audited rows.
    """
    frame = read_scores(path)
    source = ScoresFile(path=path, rows_read=len(frame))
    frame, source.filters = apply_filters(frame, list(filters or []))
    try:
        result = audit(frame, score=score_col, label=label_col, groups=group_cols, **options)
    except ValueError as err:
        raise ScoresFileError(str(err)) from None
    return result, source
