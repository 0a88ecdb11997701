"""Problems found in a set of extracts, and how to show them to people."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ROW_LIMIT = 5
"""How many row numbers to show before summarising the rest as "and N more"."""


def describe_rows(rows: Sequence[int], limit: int = ROW_LIMIT) -> str:
    """Describe data-row numbers briefly, e.g. ``"rows 3, 17, 42 and 12 more"``.

    Parameters
    ----------
    rows : sequence of int
        1-based data-row numbers (row 1 is the first row below a CSV file's header).
    limit : int
        How many numbers to show.

    Returns
    -------
    str
        ``""`` for no rows, ``"row 3"`` for one, otherwise a list of up to `limit` numbers.
    """
    if not rows:
        return ""
    if len(rows) == 1:
        return f"row {rows[0]}"
    shown = ", ".join(str(r) for r in rows[:limit])
    rest = len(rows) - limit
    if rest > 0:
        return f"rows {shown} and {rest} more"
    head, _, last = shown.rpartition(", ")
    return f"rows {head} and {last}"


def describe_values(values: Iterable[object], limit: int = ROW_LIMIT) -> str:
    """Quote a few values for a message, e.g. ``"'abc', '1.5' and 3 more"``."""
    values = list(values)
    shown = ", ".join(repr(_plain(v)) for v in values[:limit])
    rest = len(values) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown


def _plain(value: object) -> object:
    """Turn numpy scalars into Python ones so that ``repr`` reads naturally."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a set of extracts.

    Parameters
    ----------
    table : str
        The table, e.g. ``"school_census"``; ``""`` for the folder as a whole.
    column : str or None
        The column, or None for a problem with the whole table or file.
    rows : tuple of int
        1-based data-row numbers (row 1 is the first row below a CSV header); empty for a
        problem with the whole table or column.
    message : str
        What is wrong.
    action : str
        What to do about it.
    """

    table: str
    column: str | None
    rows: tuple[int, ...]
    message: str
    action: str

    def where(self) -> str:
        """Say where the problem is, e.g. ``"school_census.sessions_missed, rows 2 and 5"``."""
        place = self.table or "extracts"
        if self.column:
            place = f"{place}.{self.column}"
        rows = describe_rows(self.rows)
        return f"{place}, {rows}" if rows else place

    def __str__(self) -> str:
        return f"{self.where()}: {self.message}. {self.action}"


def format_problems(problems: Sequence[Problem]) -> str:
    """Render problems as a plain-text list, one per line, headed by their number."""
    noun = "problem" if len(problems) == 1 else "problems"
    lines = [f"{len(problems)} {noun} in the extracts:"]
    lines += [f"- {p}" for p in problems]
    return "\n".join(lines)


class ContractError(ValueError):
    """Extracts that break the data contract; ``.problems`` lists every problem found.

    Parameters
    ----------
    problems : sequence of Problem
        Every problem found, in table order.
    """

    def __init__(self, problems: Sequence[Problem]):
        self.problems: list[Problem] = list(problems)
        super().__init__(format_problems(self.problems))
