"""The roles an API key can hold (what each may call is :mod:`serving.permissions`)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Role"]


class Role(StrEnum):
    """The roles an API key can hold."""

    practitioner = "practitioner"
    analyst = "analyst"
    auditor = "auditor"
