"""Data-protection duties: retention (what the policy no longer keeps) and subject access
(everything Lantern holds about one child)."""

from __future__ import annotations

import calendar
import json
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select

from access.records import PromptRecord, clip, now
from access.schema import (
    audit_log,
    cohort_children,
    judgements,
    prompts,
    retention_log,
    retention_policy,
)
from access.store import Store, operator_name

__all__ = [
    "SUBJECT_ACCESS_SCHEMA",
    "RetentionItem",
    "RetentionReport",
    "months_before",
    "read_feature_rows",
    "retention_report",
    "retention_log_rows",
    "subject_access",
    "subject_access_export",
]

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


def redact_staff(held: dict[str, Any]) -> dict[str, Any]:
    """``held`` (:func:`subject_access`'s) with each key's name replaced by "staff member N"
    (one N per key, in order of appearance) and the callers' network addresses removed.

    Commands run by operating-system users (``cli:<user>``) become "an administrator".
    """
    names: dict[str, str] = {}

    def alias(name: str | None) -> str | None:
        if name is None:
            return None
        if name.startswith("cli:"):
            return "an administrator"
        return names.setdefault(name, f"staff member {len(names) + 1}")

    def rows(items: list[dict], *extra: str) -> list[dict]:
        out = []
        for item in items:
            item = dict(item, key_name=alias(item.get("key_name")))
            for name in extra:
                item.pop(name, None)
            if "judgements" in item:
                item["judgements"] = rows(item["judgements"])
            out.append(item)
        return out

    return {
        "prompts": rows(held["prompts"]),
        "audit_rows": rows(held["audit_rows"], "client"),
        "cohort_lists": rows(held["cohort_lists"]),
    }


def subject_access_export(
    store: Store, child_id: str, *, features: Path | None = None, redact: bool = True
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
    redact : bool
        Replace practitioners' key names and addresses (:func:`redact_staff`); the export is
        for the child or their family. False keeps them, for the partnership's own review.

    Returns
    -------
    dict
        ``schema``, ``child_id``, ``generated_at``, ``database``, ``feature_table``,
        ``feature_rows`` (None if not searched), ``prompts`` (each with its ``judgements``),
        ``audit_rows``, ``cohort_lists`` (each list the child was on: its audit row, time,
        key, purpose, model versions and the child's place) and ``notes``.

    Raises
    ------
    ValueError
        If the feature table cannot be read.
    """
    rows = read_feature_rows(features, child_id) if features is not None else None
    held = subject_access(store, child_id)
    notes = [
        "judgement notes are practitioners' own words: read them before disclosure, and "
        "redact anyone else they name (other children, family members, staff)"
    ]
    if redact:
        held = redact_staff(held)
        notes.append("practitioners' key names are replaced by 'staff member N'")
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
        "cohort_lists": held["cohort_lists"],
        "notes": notes,
    }


# --------------------------------------------------------------------------- retention


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (the last day if shorter).

    Never later than the databases' own month arithmetic, so rows this selects as expired
    are ones the audit trigger also sees as expired.
    """
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


@dataclass(frozen=True)
class RetentionItem:
    """What the retention rule selects (or removed) in one table."""

    table: str
    rule: str
    cutoff: datetime
    rows: int
    oldest: datetime | None = None
    newest: datetime | None = None


@dataclass(frozen=True)
class RetentionReport:
    """One retention run: dry run (``applied`` False) or applied and logged as ``run_id``."""

    applied: bool
    at: datetime
    run_id: str
    items: tuple[RetentionItem, ...] = field(default_factory=tuple)
    reclaimed: bool = False
    """Whether the space of the rows removed was given back (SQLite's VACUUM)."""


def reclaim_space(store: Store) -> bool:
    """Give back the space of removed rows: VACUUM on SQLite (True); PostgreSQL's autovacuum
    does it itself (False)."""
    if store.engine.dialect.name != "sqlite":
        return False
    raw = store.engine.raw_connection()  # in autocommit mode: VACUUM runs outside a transaction
    try:
        raw.driver_connection.execute("VACUUM")
    finally:
        raw.close()
    return True


def retention_report(
    store: Store, *, apply: bool = False, operator: str | None = None
) -> RetentionReport:
    """Find (dry run) or remove (``apply=True``) what the retention policy no longer keeps.

    A prompt is removed with all its judgements once it was issued more than
    ``prompts_months`` ago; an audit row once it was written more than ``audit_months``
    ago. Applying first sets the database's audit period to the settings' (the change is
    logged by the database), then removes the rows and writes one ``retention_log`` row
    per table, all in one transaction; then gives the space back (:func:`reclaim_space`).

    Parameters
    ----------
    operator : str, optional
        Who applies it, for the retention log (default: the operating-system user).

    Returns
    -------
    RetentionReport
    """
    policy = store.settings.retention
    at = now()
    run_id = str(uuid.uuid4())
    prompt_cut = months_before(at, policy.prompts_months)
    audit_cut = months_before(at, policy.audit_months)
    old_prompts = select(prompts.c.prompt_id).where(prompts.c.issued_at < prompt_cut)
    rules = (
        (
            judgements,
            judgements.c.at,
            or_(judgements.c.prompt_id.in_(old_prompts), judgements.c.at < prompt_cut),
            f"on prompts issued over {policy.prompts_months} months ago",
            prompt_cut,
        ),
        (
            prompts,
            prompts.c.issued_at,
            prompts.c.issued_at < prompt_cut,
            f"issued over {policy.prompts_months} months ago",
            prompt_cut,
        ),
        (
            cohort_children,
            cohort_children.c.at,
            cohort_children.c.at < audit_cut,
            f"children listed by cohort requests over {policy.audit_months} months ago",
            audit_cut,
        ),
        (
            audit_log,
            audit_log.c.at,
            audit_log.c.at < audit_cut,
            f"written over {policy.audit_months} months ago",
            audit_cut,
        ),
    )
    items = []
    with store.writing() if apply else store.reading() as conn:
        if apply:
            conn.execute(
                retention_policy.update()
                .where(retention_policy.c.id == 1)
                .values(audit_months=policy.audit_months)
            )
        for table, when, where, rule, cutoff in rules:
            n, oldest, newest = conn.execute(
                select(func.count(), func.min(when), func.max(when)).where(where)
            ).one()
            item = RetentionItem(
                table=table.name,
                rule=rule,
                cutoff=cutoff,
                rows=n,
                oldest=_aware(oldest),
                newest=_aware(newest),
            )
            if apply:
                anchor = {}
                if n and table is audit_log:
                    # The chain of the rows kept goes on from the last row removed.
                    last = conn.execute(
                        select(audit_log.c.id, audit_log.c.mac)
                        .where(where)
                        .order_by(audit_log.c.id.desc())
                        .limit(1)
                    ).one()
                    anchor = {"chain_id": last.id, "chain_mac": last.mac}
                if n:
                    n = conn.execute(table.delete().where(where)).rowcount
                    item = replace(item, rows=n)
                conn.execute(
                    retention_log.insert().values(
                        **anchor,
                        at=at,
                        run_id=run_id,
                        table_name=item.table,
                        action="removed",
                        detail=f"rows {rule}",
                        cutoff=cutoff,
                        rows=n,
                        oldest=item.oldest,
                        newest=item.newest,
                        operator=clip(operator or operator_name(), 100),
                    )
                )
            items.append(item)
    reclaimed = apply and any(i.rows for i in items) and reclaim_space(store)
    return RetentionReport(
        applied=apply, at=at, run_id=run_id, items=tuple(items), reclaimed=reclaimed
    )


def retention_log_rows(store: Store) -> list[dict[str, Any]]:
    """The retention log, oldest first (plain values)."""
    with store.reading() as conn:
        rows = conn.execute(select(retention_log).order_by(retention_log.c.id)).mappings()
        return [_jsonable(dict(r)) for r in rows]


def subject_access(store: Store, child_id: str) -> dict[str, Any]:
    """Everything ``store`` holds about one child: prompts (with their judgements), audit
    rows, and the cohort lists the child appeared on, as plain JSON-ready values."""
    with store.reading() as conn:
        ids = (
            conn.execute(
                select(prompts.c.prompt_id)
                .where(prompts.c.child_id == child_id)
                .order_by(prompts.c.issued_at)
            )
            .scalars()
            .all()
        )
        records = [store.prompt_in(conn, i) for i in ids]
        listed = conn.execute(
            select(
                audit_log.c.id.label("audit_row"),
                audit_log.c.at,
                audit_log.c.key_name,
                audit_log.c.purpose,
                audit_log.c.model_versions,
                cohort_children.c.rank,
            )
            .join(audit_log, audit_log.c.request_id == cohort_children.c.request_id)
            .where(cohort_children.c.child_id == child_id)
            .order_by(audit_log.c.id)
        ).mappings()
        cohorts = [_jsonable({**dict(r), "at": _aware(r["at"])}) for r in listed]
    return {
        "prompts": [_jsonable(_public(r)) for r in records],
        "audit_rows": [r.as_dict() for r in store.audit_rows(child_id=child_id)],
        "cohort_lists": cohorts,
    }


def _public(record: PromptRecord) -> dict[str, Any]:
    return {k: v for k, v in asdict(record).items() if k != "encoded"}


def _aware(value: datetime | str | None) -> datetime | None:
    # min()/max() over a SQLite column come back as text, without the column's type.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
