"""Checks shared by the governance tests (imported by name, as ``conftest`` is not)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from governance.partnership import NOT_SUPPLIED

BANNED = re.compile(
    r"\bgangs?\b|\boffenders?\b|\bsubjects?\b|\bperpetrators?\b|\bchooses? to\b"
    r"|putting themselves at risk|\blifestyle\b|\bstreetwise\b|\bpromiscuous\b",
    re.IGNORECASE,
)
"""Words and phrases Lantern's documents never use about children."""


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every leaf of nested dicts and lists, with its path."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, f"{path}[{i}]")
    else:
        yield path, value


def empty_fields(section: dict[str, Any]) -> list[str]:
    """Paths of fields that are neither filled nor marked as not supplied: empty values."""
    found = []
    for key, value in section.items():
        if value in (None, "", [], {}):
            found.append(key)
        found += [p for p, leaf in leaves(value, key) if leaf is None or str(leaf).strip() == ""]
    return found


def not_supplied_paths(record: dict[str, Any]) -> list[str]:
    """Paths of every leaf marked as not supplied by the partnership."""
    return [p for p, leaf in leaves(record) if str(leaf).startswith(NOT_SUPPLIED)]
