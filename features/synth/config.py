"""Typed settings of the synthetic partnership, loaded explicitly from YAML."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

HERE = Path(__file__).parent
DEFAULT_TARGETS = HERE / "targets.yaml"
DEFAULT_MECHANICS = HERE / "mechanics.yaml"

ETHNICITY_PRESETS = {
    # DfE major groups; kind N (school census, England). `london`: seed-facts' second preset.
    "england": {
        "White": 0.71,
        "Asian": 0.12,
        "Black": 0.06,
        "Mixed": 0.07,
        "Other": 0.025,
        "Unknown": 0.015,
    },
    "london": {
        "White": 0.45,
        "Asian": 0.20,
        "Black": 0.17,
        "Mixed": 0.11,
        "Other": 0.055,
        "Unknown": 0.015,
    },
}


class Figure(BaseModel):
    """One calibration figure: a target, its tolerance and where it comes from."""

    model_config = ConfigDict(extra="forbid")
    target: float
    low: float
    high: float
    kind: Literal["N", "S", "A"]
    source: str


class Targets(BaseModel):
    """The calibration figures, grouped as in seed-facts.md."""

    model_config = ConfigDict(extra="forbid")
    population: dict[str, Figure]
    serious_violence_cohort: dict[str, Figure]
    shape: dict[str, Figure]
    difficulty: dict[str, Figure]
    ethnicity: dict[str, Figure]

    def all(self) -> dict[str, Figure]:
        """Every figure by name."""
        return {
            **self.population,
            **self.serious_violence_cohort,
            **self.shape,
            **self.difficulty,
            **self.ethnicity,
        }

    def rate(self, name: str) -> float:
        """A figure's target value."""
        return self.all()[name].target


class Mechanics(BaseModel):
    """Effect sizes of the generator (all assumptions); see mechanics.yaml."""

    model_config = ConfigDict(extra="forbid")
    population: dict[str, float]
    latent: dict[str, float]
    school: dict[str, float]
    social_care: dict[str, float | dict[str, float]]
    police: dict[str, float]
    health: dict[str, float]
    education: dict[str, float]
    outcome_noise_sd: float
    outcome_noise_correlation: float = Field(ge=0.0, le=1.0)
    serious_violence: dict[str, float]
    role: dict[str, float]
    permanent_exclusion: dict[str, float]
    neet: dict[str, float]


class SynthConfig(BaseModel):
    """What to generate.

    Attributes
    ----------
    children : int
        Children aged 10-17 on the last annual anchor date.
    years : int
        Years of snapshots and outcomes; records start ``history_years`` earlier.
    history_years : int
        Years of agency records before the first snapshot (features need a past).
    seed : int
        Seed of every random draw: the same config gives the same partnership.
    end : datetime.date
        The day the records end (1 September: the year is anchored on the school year).
    ethnicity_preset : {"england", "london"}
        Ethnic make-up of the partnership.
    police_recording_rate : float
        The share of serious violence the police record, in every group (1.0 = all of it;
        0.8 = equal under-recording). An injury the police miss still reaches an emergency
        department as often as any victim's does.
    police_recording_bias : float
        How much more often police record serious violence, searches and suspects involving
        Black children at equal behaviour (1.0 = no bias); multiplies the recording rate.
    exclusion_bias_send : float
        How much more often children with SEND are excluded at equal behaviour (1.0 = none).
    """

    model_config = ConfigDict(extra="forbid")
    children: int = Field(40_000, ge=200)
    years: int = Field(3, ge=1, le=10)
    history_years: int = Field(1, ge=1, le=5)
    seed: int = 7
    end: dt.date = dt.date(2026, 9, 1)
    ethnicity_preset: Literal["england", "london"] = "england"
    police_recording_rate: float = Field(1.0, ge=0.5, le=1.0)
    police_recording_bias: float = Field(1.0, ge=0.5, le=3.0)
    exclusion_bias_send: float = Field(1.0, ge=0.5, le=3.0)
    targets_path: Path = DEFAULT_TARGETS
    mechanics_path: Path = DEFAULT_MECHANICS

    def targets(self) -> Targets:
        """The calibration figures from ``targets_path``."""
        return Targets.model_validate(yaml.safe_load(Path(self.targets_path).read_text()))

    def mechanics(self) -> Mechanics:
        """The generator's effect sizes from ``mechanics_path``."""
        return Mechanics.model_validate(yaml.safe_load(Path(self.mechanics_path).read_text()))
