"""Data-protection duties: a subject access export of everything Lantern holds about a child.

Retention itself is :meth:`serving.store.Store.retention`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from serving.store import Store

__all__ = ["SUBJECT_ACCESS_SCHEMA", "read_feature_rows", "subject_access_export"]

SUBJECT_ACCESS_SCHEMA = "lantern.subject_access/1"
"""Version of the export's layout."""


def read_feature_rows(path: Path, child_id: str) -> list[dict[str, Any]]:
    """One child's rows of a feature table (Parquet or CSV, as ``lantern features`` writes).

    Parameters
    ----------
    path : Path
        The table; it must have a ``child_id`` column.
    child_id : str

    Returns
    -------
    list of dict
        One dict per snapshot, oldest first; dates as ISO text, missing values as None.

    Raises
    ------
    ValueError
        If the file is missing, unreadable, of another kind, or has no ``child_id`` column.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"feature table {path} does not exist; give the file `lantern features` wrote"
        )
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".pq", ".csv"):
        raise ValueError(
            f"feature table {path} is neither .parquet nor .csv; give the file "
            "`lantern features` wrote"
        )
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype={"child_id": str})
            columns = list(frame.columns)
        else:
            schema = pq.read_schema(path)
            columns = schema.names
            if "child_id" in columns:
                # Filtering inside the reader keeps a large table out of memory.
                string_ids = pa.types.is_string(schema.field("child_id").type) or (
                    pa.types.is_large_string(schema.field("child_id").type)
                )
                filters = [("child_id", "==", str(child_id))] if string_ids else None
                frame = pd.read_parquet(path, filters=filters)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read feature table {path}: {err}") from None
    if "child_id" not in columns:
        raise ValueError(
            f"feature table {path} has no child_id column; give the file `lantern features` wrote"
        )
    frame = frame[frame["child_id"].astype(str) == str(child_id)]
    if "snapshot_date" in frame.columns:
        frame = frame.sort_values("snapshot_date")
    return json.loads(frame.to_json(orient="records", date_format="iso", date_unit="s"))


def subject_access_export(
    store: Store, child_id: str, *, features: Path | None = None
) -> dict[str, Any]:
    """Everything Lantern holds about one child, ready to write as JSON.

    Parameters
    ----------
    store : Store
        Prompts, judgements and audit rows.
    child_id : str
        The child's pseudonymised id.
    features : Path, optional
        The feature table to search; without it the export says the features were not
        searched.

    Returns
    -------
    dict
        ``schema``, ``child_id``, ``generated_at``, ``database``, ``feature_table``,
        ``feature_rows`` (None if not searched), ``prompts`` (each with its ``judgements``),
        ``audit_rows`` and ``notes``.

    Raises
    ------
    ValueError
        If the feature table cannot be read.
    """
    rows = read_feature_rows(features, child_id) if features is not None else None
    held = store.subject_access(child_id)
    notes = []
    if rows is None:
        notes.append(
            "feature rows were not searched: give the feature table (lantern subject-access "
            "CHILD_ID --features FILE) to include them"
        )
    return {
        "schema": SUBJECT_ACCESS_SCHEMA,
        "child_id": child_id,
        "generated_at": datetime.now(UTC).isoformat(),
        "database": store.describe(),
        "feature_table": str(Path(features).absolute()) if features is not None else None,
        "feature_rows": rows,
        "prompts": held["prompts"],
        "audit_rows": held["audit_rows"],
        "notes": notes,
    }
