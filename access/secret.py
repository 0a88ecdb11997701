"""The audit chain's secret: 32 random bytes in a file only its owner may read.

Where it is (first that applies):

1. ``$LANTERN_AUDIT_SECRET``: the secret itself, as 64 hex digits (e.g. from a secrets
   manager);
2. :attr:`access.config.StoreSettings.secret_file`, or ``$LANTERN_AUDIT_SECRET_FILE``;
3. beside a SQLite database, ``<database>.secret`` (``data/lantern.db.secret`` by default);
   for any other database, ``data/lantern-audit.secret`` under the working directory.

``lantern keys init`` creates it; the store also creates it on first use of an empty log.
Keep it outside the database and its backups, readable only by the service's user: whoever
holds it can forge a chain; whoever loses it can no longer verify the log.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url

__all__ = [
    "SECRET_FILE_VARIABLE",
    "SECRET_VARIABLE",
    "SecretError",
    "create_secret",
    "obtain_secret",
    "default_secret_path",
    "read_secret",
]

SECRET_VARIABLE = "LANTERN_AUDIT_SECRET"
SECRET_FILE_VARIABLE = "LANTERN_AUDIT_SECRET_FILE"


class SecretError(RuntimeError):
    """The audit secret is missing, unreadable, malformed or readable by others."""


def default_secret_path(url: str) -> Path:
    """Where the secret of the database at ``url`` is kept when no file is configured."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(f"{parsed.database}.secret")
    return Path("data/lantern-audit.secret").absolute()


def _parse(text: str, where: str) -> bytes:
    try:
        value = bytes.fromhex(text.strip())
    except ValueError:
        value = b""
    if len(value) < 32:
        raise SecretError(
            f"the audit secret in {where} is not 64 hex digits; restore the original, or for "
            "a new, empty database create one with `lantern keys init`"
        )
    return value


def read_secret(path: Path) -> bytes | None:
    """The secret (``$LANTERN_AUDIT_SECRET``, else the file at ``path``), or None if neither
    exists.

    Raises
    ------
    SecretError
        If it is malformed, or the file may be read or written by other users.
    """
    if os.environ.get(SECRET_VARIABLE):
        return _parse(os.environ[SECRET_VARIABLE], f"${SECRET_VARIABLE}")
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    if info.st_mode & 0o077:
        raise SecretError(
            f"the audit secret {path} may be read by other users (mode "
            f"{info.st_mode & 0o777:o}); make it private with `chmod 600 {path}`"
        )
    return _parse(path.read_text(), str(path))


def create_secret(path: Path) -> bytes:
    """Write a new random secret to ``path`` (mode 0600) and return it.

    Atomic: the file appears whole or not at all, and an existing one is never replaced.

    Raises
    ------
    FileExistsError
        If ``path`` exists.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_bytes(32)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(value.hex() + "\n")
        os.link(partial, path)  # fails if another process created it first
    finally:
        partial.unlink(missing_ok=True)
    return value


def obtain_secret(path: Path, log_is_chained: Callable[[], bool], database: str) -> bytes:
    """The secret (:func:`read_secret`); if there is none, a new one, unless the log is
    chained already (a new secret would make every row fail verification).

    Parameters
    ----------
    path : Path
        Where the secret file is, or is to be.
    log_is_chained : callable
        Whether the audit log holds a chained row.
    database : str
        The database, for the message.

    Raises
    ------
    SecretError
        If the secret is missing while the log is chained, or cannot be used.
    """
    found = read_secret(path)
    if found is not None:
        return found
    chained = log_is_chained()
    # A process that wrote a chained row made the file first: look again.
    found = read_secret(path)
    if found is not None:
        return found
    if chained:
        raise SecretError(
            f"the audit secret {path} is missing, but the audit log of {database} is chained "
            "with one: restore the file (or set LANTERN_AUDIT_SECRET_FILE to where it is); a "
            "new secret would make every row fail `lantern audit-log verify`"
        )
    try:
        return create_secret(path)
    except FileExistsError:  # another process made it first
        return read_secret(path)
