"""Typed settings of the synthetic raw extracts: names (``names.yaml``), noise (``noise.yaml``)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

HERE = Path(__file__).parent
DEFAULT_NAMES = HERE / "names.yaml"
DEFAULT_NOISE = HERE / "noise.yaml"

MISSING = ("upn_missing", "nhs_missing")
"""Group factors on how often an identifier an agency holds is missing (no base rate: the
agency's own completeness is the base)."""

GROUPS = ("White", "Mixed", "Asian", "Black", "Other", "Unknown")


class Names(BaseModel):
    """Where names come from: Faker locales by ethnic group, short forms and spellings."""

    model_config = ConfigDict(extra="forbid")
    locales: dict[str, dict[str, float]]
    pool_size: int = Field(3000, ge=50)
    double_surname: float = Field(ge=0, le=1)
    nicknames: dict[str, list[str]]
    variants: list[list[str]]

    def check_groups(self) -> None:
        """Every DfE major group has locales whose weights sum to one."""
        missing = [g for g in GROUPS if g not in self.locales]
        if missing:
            raise ValueError(f"names.yaml: no locales for {', '.join(missing)}; add them")
        for group, weights in self.locales.items():
            if abs(sum(weights.values()) - 1) > 1e-9:
                raise ValueError(f"names.yaml: the locale weights of {group} do not sum to 1")


class AgencyNoise(BaseModel):
    """How completely one agency holds each identifier, and how often it holds a child twice."""

    model_config = ConfigDict(extra="forbid")
    upn: float = Field(ge=0, le=1)
    nhs: float = Field(ge=0, le=1)
    dob: float = Field(ge=0, le=1)
    postcode: float = Field(ge=0, le=1)
    duplicate: float = Field(ge=0, le=0.5)


class Errors(BaseModel):
    """Per-record rates of each kind of identity error."""

    model_config = ConfigDict(extra="forbid")
    dob_day_month_swap: float = Field(ge=0, le=1)
    dob_typo: float = Field(ge=0, le=1)
    sex: float = Field(ge=0, le=1)
    postcode_earlier: float = Field(ge=0, le=1)
    postcode_typo: float = Field(ge=0, le=1)
    forename_typo: float = Field(ge=0, le=1)
    surname_typo: float = Field(ge=0, le=1)
    nickname: float = Field(ge=0, le=1)
    variant_spelling: float = Field(ge=0, le=1)
    ascii_folded: float = Field(ge=0, le=1)
    double_surname_part: float = Field(ge=0, le=1)
    name_order_swapped: float = Field(ge=0, le=1)
    identifier_wrong: float = Field(ge=0, le=1)


class Noise(BaseModel):
    """The identity noise of every agency's records."""

    model_config = ConfigDict(extra="forbid")
    agencies: dict[str, AgencyNoise]
    errors: Errors
    group_factors: dict[str, dict[str, float]] = {}

    def rate(self, error: str, groups) -> list[float]:
        """The rate of ``error`` for each record's ethnic group, with its group's factor."""
        base = 1.0 if error in MISSING else getattr(self.errors, error)
        return [min(1.0, base * self.group_factors.get(g, {}).get(error, 1.0)) for g in groups]


def load_names(path: str | Path | None = None) -> Names:
    """Read ``names.yaml`` (the package's unless ``path`` is given)."""
    names = Names.model_validate(yaml.safe_load(Path(path or DEFAULT_NAMES).read_text()))
    names.check_groups()
    return names


def load_noise(path: str | Path | None = None) -> Noise:
    """Read ``noise.yaml`` (the package's unless ``path`` is given)."""
    return Noise.model_validate(yaml.safe_load(Path(path or DEFAULT_NOISE).read_text()))
