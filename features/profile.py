"""A feature table's profile: missing values per feature and rows per audit group."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

MIN_CELL = 10
"""Groups with fewer rows than this are shown as "fewer than 10", as official statistics do."""


def data_profile(
    table: pd.DataFrame, features: Iterable[str], audit_columns: Sequence[str] | None = None
) -> dict[str, Any]:
    """Missing values per feature and rows per audit group, in the whole feature table.

    Parameters
    ----------
    table : pandas.DataFrame
        The feature table the run was given.
    features : iterable of str
        The model's features.
    audit_columns : sequence of str, optional
        Audit-only columns; defaults to :data:`features.build.AUDIT_COLUMNS` less ``area``.

    Returns
    -------
    dict
        ``rows``; ``missing`` ({feature: share of rows with no value}); ``groups``
        ({column: {value: rows}}), counts under :data:`MIN_CELL` as ``"fewer than 10"``.
    """
    from features.build import AUDIT_COLUMNS

    if audit_columns is None:
        audit_columns = [c for c in AUDIT_COLUMNS if c != "area"]
    features = [f for f in features if f in table]
    missing = table[features].isna().mean()
    groups = {}
    for column in (c for c in audit_columns if c in table):
        counts = table[column].astype("string").fillna("not recorded").value_counts()
        groups[column] = {
            str(value): int(n) if n >= MIN_CELL else f"fewer than {MIN_CELL}"
            for value, n in counts.sort_index().items()
        }
    return {
        "rows": int(len(table)),
        "missing": {name: round(float(share), 4) for name, share in missing.items()},
        "groups": groups,
    }
