"""The audit log's tamper-evident chain: each row's ``mac`` is an HMAC over the previous row's
``mac`` and the row's own content, keyed by a secret kept outside the database.

Changing a stored row changes its own ``mac`` check; deleting one breaks the check of the row
after it; a row inserted by anyone without the secret has a ``mac`` that cannot be right.
:func:`check_chain` walks the rows in id order and names the first that fails. Rows removed by
``lantern retention --apply`` leave an *anchor* in ``retention_log`` (the id and ``mac`` of
the last row removed), from which the chain of the rows kept goes on.

Pure functions: :mod:`access.store` computes the values as it writes, ``lantern audit-log
verify`` checks them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["CHAINED_FIELDS", "ChainCheck", "check_chain", "row_mac"]

CHAINED_FIELDS = (
    "at",
    "key_name",
    "role",
    "endpoint",
    "method",
    "child_id",
    "purpose",
    "model_versions",
    "status",
    "outcome",
    "detail",
    "request_id",
    "client",
)
"""The audit columns the ``mac`` covers (every column but ``id`` and ``mac``), then the ids
of the children a cohort returned."""


def _content(values: Mapping[str, Any], children: Sequence[str]) -> bytes:
    items: list[Any] = []
    for name in CHAINED_FIELDS:
        value = values.get(name)
        items.append(value.isoformat() if isinstance(value, datetime) else value)
    items.append(list(children))
    return json.dumps(items, ensure_ascii=False, separators=(",", ":")).encode()


def row_mac(
    secret: bytes, previous: str, values: Mapping[str, Any], children: Sequence[str] = ()
) -> str:
    """The chain value of one row: HMAC-SHA256 over ``previous`` and the row's content.

    Parameters
    ----------
    secret : bytes
        The chain's key.
    previous : str
        The previous row's ``mac`` ("" for the first row of a log).
    values : mapping
        The row's :data:`CHAINED_FIELDS` (``at`` an aware datetime).
    children : sequence of str
        The children a cohort request returned, in order.

    Returns
    -------
    str
        64 hex digits.
    """
    digest = hmac.new(secret, previous.encode() + b"\n", hashlib.sha256)
    digest.update(_content(values, children))
    return digest.hexdigest()


@dataclass(frozen=True)
class ChainCheck:
    """What :func:`check_chain` found.

    Attributes
    ----------
    rows : int
        Rows checked.
    first_bad : int or None
        The id of the first row whose ``mac`` is wrong (None when the chain is whole).
    problem : str
        What is wrong with it, in words ("" when whole).
    """

    rows: int
    first_bad: int | None = None
    problem: str = ""

    @property
    def whole(self) -> bool:
        """Whether every row checked is as written."""
        return self.first_bad is None


def check_chain(
    secret: bytes,
    rows: Iterable[Mapping[str, Any]],
    children: Mapping[str, Sequence[str]],
    anchors: Sequence[tuple[int, str]] = (),
) -> ChainCheck:
    """Check the ``mac`` of every row, in id order.

    Parameters
    ----------
    secret : bytes
        The chain's key.
    rows : iterable of mapping
        Audit rows (every column), in id order.
    children : mapping of str to sequence of str
        Request id -> the children its cohort returned.
    anchors : sequence of (int, str)
        ``(id, mac)`` of the last row each retention run removed.

    Returns
    -------
    ChainCheck
    """
    ordered = sorted(anchors)
    previous: str | None = None
    count = 0
    for row in rows:
        count += 1
        if previous is None:
            before = [mac for row_id, mac in ordered if row_id < row["id"]]
            previous = before[-1] if before else ""
        if row.get("mac") is None:
            return ChainCheck(count, row["id"], "it has no chain value (written outside Lantern?)")
        expected = row_mac(secret, previous, row, children.get(row["request_id"], ()))
        if not hmac.compare_digest(expected, row["mac"]):
            return ChainCheck(
                count,
                row["id"],
                "its content or its place in the log differs from what was written: the row "
                "was changed, a row before it was deleted, or it was inserted out of order",
            )
        previous = row["mac"]
    return ChainCheck(count)
