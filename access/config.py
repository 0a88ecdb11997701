"""Typed settings of the serving store: where the database is and how long records are kept.

Nothing is read on import: build :class:`StoreSettings` yourself, or call
:func:`load_store_settings` with a YAML file and/or an explicit database URL.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from access.limits import LimitSettings

DATABASE_URL_VARIABLE = "LANTERN_DATABASE_URL"
"""Environment variable that overrides the default database URL."""

DEFAULT_DATABASE_URL = "sqlite:///data/lantern.db"
"""The default database: ``data/lantern.db`` under the working directory (git-ignored)."""

_SQLITE = "sqlite:///"
_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def _default_url() -> str:
    return os.environ.get(DATABASE_URL_VARIABLE) or DEFAULT_DATABASE_URL


def _default_secret_file() -> Path | None:
    found = os.environ.get("LANTERN_AUDIT_SECRET_FILE")
    return Path(found) if found else None


class RetentionPolicy(BaseModel):
    """How long Lantern keeps what it records, in whole months.

    Attributes
    ----------
    prompts_months : int
        A prompt, and the judgements recorded on it, are removed this long after the prompt
        was issued.
    audit_months : int
        Audit rows are removed this long after they were written. The database itself refuses
        to delete younger audit rows (see :mod:`access.store`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    prompts_months: int = Field(12, ge=1, le=1200)
    audit_months: int = Field(72, ge=1, le=1200)


class StoreSettings(BaseModel):
    """Settings of :class:`access.store.Store` and :class:`serving.middleware.AuditMiddleware`.

    Attributes
    ----------
    url : str
        SQLAlchemy database URL. Defaults to ``LANTERN_DATABASE_URL`` if set, else
        ``sqlite:///data/lantern.db``; a relative SQLite path is made absolute against the
        working directory, and ``postgresql://`` uses the psycopg 3 driver.
    retention : RetentionPolicy
        How long prompts, judgements and audit rows are kept.
    key_cache_seconds : float
        How long a process trusts a key it has verified before asking the database again; a
        revoked key stops working in every worker within this time.
    max_body_bytes : int
        Largest request body the middleware reads (it answers 413 above this).
    busy_timeout_ms : int
        SQLite only: how long a writer waits for another process's write lock.
    audit_writer : {"auto", "event_loop", "thread"}
        Where the service commits its audit rows (:class:`access.writer.GroupWriter`):
        ``auto`` is the event loop for SQLite and a thread for any other database.
    service_login : str or None
        PostgreSQL only: the role the service logs in as, when the tables are created by
        another (owner) role. The owner grants it SELECT and INSERT and nothing more, so the
        service's login cannot change or delete what it logged, nor the triggers that guard
        it. Give it to the commands run with the owner's URL (e.g. ``lantern keys init``).
    limits : LimitSettings
        Requests per key per minute and per day, and the distinct children per hour that
        raise an alert (:mod:`access.limits`).
    secret_file : Path or None
        The audit chain's secret (:mod:`access.secret`). Default ``$LANTERN_AUDIT_SECRET_FILE``,
        else ``<database>.secret`` beside a SQLite file, else ``data/lantern-audit.secret``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
    url: str = Field(default_factory=_default_url)
    retention: RetentionPolicy = Field(default_factory=RetentionPolicy)
    key_cache_seconds: float = Field(10.0, ge=0)
    max_body_bytes: int = Field(1_048_576, ge=1)
    busy_timeout_ms: int = Field(10_000, ge=0)
    audit_writer: Literal["auto", "event_loop", "thread"] = "auto"
    secret_file: Path | None = Field(default_factory=_default_secret_file)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    service_login: str | None = None

    def secret_path(self) -> Path:
        """Where the audit chain's secret is kept (see :attr:`secret_file`)."""
        from access.secret import default_secret_path

        return (
            Path(self.secret_file).absolute() if self.secret_file else default_secret_path(self.url)
        )

    @field_validator("url")
    @classmethod
    def _normalise_url(cls, url: str) -> str:
        url = url.strip()
        if not url:
            raise ValueError(
                f"the database URL is empty; give e.g. {DEFAULT_DATABASE_URL} or set "
                f"{DATABASE_URL_VARIABLE}"
            )
        if url.startswith(_SQLITE) and url != _SQLITE and ":memory:" not in url:
            path, _, query = url.removeprefix(_SQLITE).partition("?")
            url = f"{_SQLITE}{Path(path).absolute()}" + (f"?{query}" if query else "")
        for scheme in _POSTGRES_SCHEMES:
            if url.startswith(scheme):
                url = "postgresql+psycopg://" + url.removeprefix(scheme)
        return url


def load_store_settings(path: Path | None = None, *, url: str | None = None) -> StoreSettings:
    """Store settings from a YAML file (optional), with an explicit URL taking precedence.

    Parameters
    ----------
    path : Path, optional
        YAML with any of :class:`StoreSettings`' fields, e.g. ``retention: {audit_months: 84}``.
    url : str, optional
        Database URL; overrides the file and ``LANTERN_DATABASE_URL``.

    Returns
    -------
    StoreSettings

    Raises
    ------
    ValueError
        If the file cannot be read or holds unknown or invalid settings.
    """
    data: dict = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as err:
            raise ValueError(f"cannot read store settings {path}: {err}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ValueError(
                f"store settings {path} must be a YAML mapping, e.g. 'retention: "
                "{audit_months: 72}'"
            )
        data = loaded or {}
    if url is not None:
        data["url"] = url
    return StoreSettings.model_validate(data)
