"""The stored shape of each record: the values an INSERT writes, and records from rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

from access.engine import EncodedJSON
from access.records import ApiKey, AuditEntry, Judgement, Outcome, PromptRecord, clip
from access.schema import prompts

__all__ = ["api_key", "audit_values", "judgement", "prompt_values"]


def prompt_values(record: PromptRecord) -> dict[str, Any]:
    # Shallow: dataclasses.asdict would deep-copy the whole prompt document for nothing.
    values = {f.name: getattr(record, f.name) for f in fields(record) if f.name in PROMPT_COLUMNS}
    if record.encoded is not None:
        values["prompt"] = EncodedJSON(record.encoded)
    return values


PROMPT_COLUMNS = frozenset(c.name for c in prompts.columns)


def audit_values(entry: AuditEntry, at: datetime) -> dict[str, Any]:
    return {
        "at": at,
        "key_name": clip(entry.key_name, 100),
        "role": clip(entry.role, 20),
        "endpoint": clip(entry.endpoint, 300),
        "method": clip(entry.method, 10),
        "child_id": clip(entry.child_id, 200),
        "purpose": clip(entry.purpose, 500),
        "model_versions": clip(entry.model_versions, 500),
        "status": entry.status,
        "outcome": Outcome(entry.outcome).value,
        "detail": clip(entry.detail, 500),
        "request_id": clip(entry.request_id, 64),
        "client": clip(entry.client, 100),
    }


def api_key(row: Mapping[str, Any]) -> ApiKey:
    return ApiKey(
        name=row["name"],
        role=row["role"],
        key_id=row["key_id"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        expires_at=row["expires_at"],
        last_used_at=row["last_used_at"],
    )


def judgement(row: Mapping[str, Any]) -> Judgement:
    return Judgement(
        prompt_id=row["prompt_id"],
        view=row["view"],
        note=row["note"],
        key_name=row["key_name"],
        at=row["at"],
    )
