"""What the access store holds, as plain values: keys, audit entries, prompts and judgements.

Pure: no I/O. :mod:`access.store` writes and reads these; the service builds them.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from access.schema import AUDIT_COLUMNS

__all__ = [
    "MAX_NOTE_CHARS",
    "VIEWS",
    "ApiKey",
    "AuditEntry",
    "AuditRow",
    "InvalidJudgementError",
    "IssuedKey",
    "Judgement",
    "KeyNameTakenError",
    "Outcome",
    "PromptRecord",
    "UnknownKeyError",
    "UnknownPromptError",
    "clip",
    "format_model_versions",
    "hash_token",
    "is_uuid",
    "looks_like_token",
    "new_prompt_id",
    "new_token",
    "now",
    "parse_model_versions",
    "prompt_record",
    "storable",
]

VIEWS = ("agree", "disagree")
"""A practitioner's judgement on a prompt."""

MAX_NOTE_CHARS = 4000
_TOKEN = re.compile(r"^lantern_([0-9a-f]{12})_([A-Za-z0-9_-]{40,})$")


class Outcome(StrEnum):
    """What became of a request, in one word."""

    allowed = "allowed"
    refused = "refused"
    error = "error"
    alert = "alert"
    """Not a request: a warning the service wrote (e.g. a key asking about many children)."""


class UnknownPromptError(LookupError):
    """No prompt has this id (never issued, or removed by retention); the service answers 404."""


class InvalidJudgementError(ValueError):
    """A judgement's view or note is not acceptable; the message says what to send."""


class KeyNameTakenError(ValueError):
    """A key with this name exists (names are never reused)."""


class UnknownKeyError(LookupError):
    """No key has this name."""


# --------------------------------------------------------------------------- pure helpers


def hash_token(token: str) -> str:
    """SHA-256 (hex) of an API key: what the database stores instead of the key."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    key_id = secrets.token_hex(6)
    return key_id, f"lantern_{key_id}_{secrets.token_urlsafe(32)}"


def looks_like_token(token: str) -> bool:
    """Whether ``token`` has the shape of a Lantern key (checked before any look-up)."""
    return bool(_TOKEN.match(token))


def format_model_versions(versions: Mapping[str, str | int]) -> str:
    """``{"serious_violence": 2, "exclusion_neet": 3}`` -> ``"exclusion_neet=3,serious_violence=2"``.

    The service sends this in the ``x-lantern-model-versions`` response header, and the
    audit log stores it as text.
    """
    return ",".join(f"{name}={versions[name]}" for name in sorted(versions))


def parse_model_versions(text_: str | None) -> dict[str, str]:
    """The inverse of :func:`format_model_versions` (empty for None or "")."""
    out = {}
    for pair in (text_ or "").split(","):
        name, sep, version = pair.strip().partition("=")
        if sep and name:
            out[name] = version
    return out


def now() -> datetime:
    return datetime.now(UTC)


def storable(text: str) -> str:
    """``text`` as every backend can store it: a lone surrogate (invalid UTF-8) and NUL (which
    PostgreSQL refuses) are written as backslash escapes instead of failing the write."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("\x00", "\\x00")


def clip(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    value = storable(str(value))
    return value if len(value) <= limit else value[: limit - 1] + "…"


@dataclass(frozen=True)
class ApiKey:
    """A stored key (never the key itself).

    Attributes
    ----------
    name, role, key_id : str
        ``key_id`` is the public middle part of the token, to tell keys apart.
    created_at : datetime
    revoked_at : datetime or None
    expires_at : datetime or None
        After this the key is refused (None: never).
    last_used_at : datetime or None
        When a service last looked the key up (at most ``key_cache_seconds`` stale).
    """

    name: str
    role: str
    key_id: str
    created_at: datetime
    revoked_at: datetime | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        """Whether the key was revoked."""
        return self.revoked_at is not None

    def expired(self, at: datetime | None = None) -> bool:
        """Whether the key has expired by ``at`` (default: now)."""
        return self.expires_at is not None and self.expires_at <= (at or now())


@dataclass(frozen=True)
class IssuedKey:
    """A key just created: ``token`` is shown once and never stored."""

    key: ApiKey
    token: str


@dataclass(frozen=True)
class AuditEntry:
    """One audit row to append (the store adds its id and time).

    Attributes
    ----------
    endpoint, method : str
        Request path and HTTP method (``CLI`` for a ``lantern`` command).
    outcome : Outcome
    request_id : str
    status : int or None
        HTTP status (None for a command).
    key_name, role, child_id, purpose, model_versions, detail : str or None
    client : str or None
        The caller's network address.
    children : tuple of str
        The children a cohort list returned, in order (stored in ``cohort_children``).
    """

    endpoint: str
    method: str
    outcome: Outcome | str
    request_id: str
    status: int | None = None
    key_name: str | None = None
    role: str | None = None
    child_id: str | None = None
    purpose: str | None = None
    model_versions: str | None = None
    detail: str | None = None
    client: str | None = None
    children: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuditRow(AuditEntry):
    """A stored audit row: an :class:`AuditEntry` with its ``id``, ``at`` (UTC) and chain
    value ``mac`` (:mod:`access.chain`)."""

    id: int = 0
    at: datetime | None = None
    mac: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain values, columns in the table's order (``at`` as ISO 8601)."""
        row = asdict(self)
        row["at"] = self.at.isoformat() if self.at else None
        return {name: row[name] for name in AUDIT_COLUMNS}


@dataclass(frozen=True)
class Judgement:
    """A practitioner's view of a prompt."""

    prompt_id: str
    view: str
    note: str | None
    key_name: str
    at: datetime


@dataclass(frozen=True)
class PromptRecord:
    """A prompt issued, with the judgements recorded on it (oldest first)."""

    prompt_id: str
    child_id: str
    issued_at: datetime
    key_name: str
    purpose: str | None
    model_versions: str | None
    prompt: dict[str, Any]
    judgements: tuple[Judgement, ...] = ()
    encoded: str | None = field(default=None, repr=False, compare=False)
    """The prompt exactly as sent (JSON text), when the sender encoded it already."""


def prompt_record(
    *,
    child_id: str,
    key_name: str,
    prompt: Mapping[str, Any],
    purpose: str | None = None,
    model_versions: str | Mapping[str, str | int] | None = None,
    issued_at: datetime | None = None,
    prompt_id: str | None = None,
    encoded: str | None = None,
) -> PromptRecord:
    """A prompt as issued, ready to store (no I/O).

    Parameters
    ----------
    child_id : str
        The child's pseudonymised id.
    key_name : str
        The key that asked for it.
    prompt : mapping
        The prompt as sent (JSON-serialisable).
    purpose : str, optional
        The purpose the practitioner stated.
    model_versions : str or mapping, optional
        E.g. ``{"serious_violence": 2}`` (see :func:`format_model_versions`).
    issued_at : datetime, optional
        Default: now (UTC).
    prompt_id : str, optional
        The id the prompt already carries (a UUID); default :func:`new_prompt_id`.
    encoded : str, optional
        ``prompt`` as the JSON text that was sent; stored byte for byte instead of being
        encoded again.
    """
    if prompt_id is not None and not is_uuid(prompt_id):
        raise ValueError(f"prompt_id {prompt_id!r} is not a UUID; leave it out for a new one")
    if not isinstance(model_versions, str | None):
        model_versions = format_model_versions(model_versions)
    return PromptRecord(
        prompt_id=prompt_id or new_prompt_id(),
        child_id=str(child_id),
        issued_at=issued_at or now(),
        key_name=key_name,
        purpose=clip(purpose, 500),
        model_versions=clip(model_versions, 500),
        prompt=dict(prompt),
        encoded=encoded,
    )


def new_prompt_id() -> str:
    """A new prompt id: a UUID whose first 48 bits are the time in milliseconds (the
    version 7 layout), so new prompts go to the end of the table's index, not all over it."""
    millis = time.time_ns() // 1_000_000
    bits = (millis & (2**48 - 1)) << 80 | secrets.randbits(80)
    bits = bits & ~(0xF << 76) | 0x7 << 76  # version 7
    bits = bits & ~(0x3 << 62) | 0x2 << 62  # RFC 4122 variant
    return str(uuid.UUID(int=bits))


def is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except (ValueError, TypeError, AttributeError):
        return False
