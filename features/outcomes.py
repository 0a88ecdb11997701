"""Outcome definitions (config, not code) and the labels they give each snapshot row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, Field, RootModel, field_validator

from features.pointintime import DATE_COLUMN, Records

DEFAULT_OUTCOMES = Path(__file__).with_name("outcomes.yaml")


class Component(BaseModel):
    """Records in one table that count as the outcome.

    ``ages`` (whole years at the snapshot, inclusive) is who this component can happen to
    within the window, e.g. pupils of compulsory school age for permanent exclusion; none
    means every child.
    """

    table: str
    where: dict[str, Any] = Field(default_factory=dict)
    ages: tuple[int, int] | None = None
    label: str | None = None  # what the component is, as a prompt names it ("NEET")

    @field_validator("ages")
    @classmethod
    def _ordered(cls, ages: tuple[int, int] | None) -> tuple[int, int] | None:
        if ages is not None and not 0 <= ages[0] <= ages[1]:
            raise ValueError(
                f"ages must be [youngest, oldest] with 0 <= youngest <= oldest: {ages}"
            )
        return ages

    def eligible(self, ages: np.ndarray) -> np.ndarray:
        """Which children of these ages this component can happen to."""
        ages = np.asarray(ages, dtype=float)
        if self.ages is None:
            return np.ones(ages.shape, dtype=bool)
        return (ages >= self.ages[0]) & (ages <= self.ages[1])

    @field_validator("table")
    @classmethod
    def _known_table(cls, table: str) -> str:
        if table not in DATE_COLUMN:
            raise ValueError(f"unknown table {table!r}; use one of {sorted(DATE_COLUMN)}")
        return table

    def matches(self, rows: pd.DataFrame) -> np.ndarray:
        """Which of ``rows`` count as the outcome."""
        mask = np.ones(len(rows), dtype=bool)
        for column, value in self.where.items():
            if column not in rows:
                raise ValueError(
                    f"outcome component on {self.table!r} filters on {column!r}, which that "
                    f"table does not have; its columns are {list(rows.columns)}"
                )
            values = rows[column].to_numpy()
            mask &= np.isin(values, value) if isinstance(value, list) else values == value
        return mask


class CrossCheck(BaseModel):
    """Two agencies' records of the same harm, whose ratio should not depend on the group.

    A group whose ratio differs from the reference group's points at one agency recording
    that group differently: label bias seen without ground truth.
    """

    numerator: Component
    denominator: Component
    assumes: str  # why the ratio should be the same in every group, and when it might not

    def records(
        self, tables: dict[str, pd.DataFrame], start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        """Each side's records dated in ``[start, end]``: ``child_id``, ``side``, ``date``."""
        parts = []
        for side, component in (("numerator", self.numerator), ("denominator", self.denominator)):
            rows = tables[component.table]
            dates = rows[DATE_COLUMN[component.table]]
            hits = rows[component.matches(rows) & (dates >= start) & (dates <= end)]
            parts.append(
                pd.DataFrame(
                    {
                        "child_id": hits["child_id"].to_numpy(),
                        "side": side,
                        "date": hits[DATE_COLUMN[component.table]].to_numpy(),
                    }
                )
            )
        return pd.concat(parts, ignore_index=True)


class Outcome(BaseModel):
    """An outcome: any of its components within ``window_months`` after the snapshot.

    ``cross_checks`` are pairs of agencies' records of the same harm that the label-bias
    check compares by group.
    """

    description: str
    window_months: int = Field(12, gt=0, le=60)
    any_of: list[Component] = Field(min_length=1)
    cross_checks: dict[str, CrossCheck] = Field(default_factory=dict)

    def eligible(self, ages) -> np.ndarray:
        """The eligible population: children whom at least one component can happen to."""
        ages = np.asarray(ages, dtype=float)
        return np.logical_or.reduce([c.eligible(ages) for c in self.any_of])

    def population(self) -> str:
        """Who the outcome applies to, in words."""
        parts = [
            f"{c.label or c.table}: ages {c.ages[0]}-{c.ages[1]}"
            if c.ages
            else f"{c.label or c.table}: every child"
            for c in self.any_of
        ]
        return "; ".join(parts)

    def possible_at(self, age: float) -> tuple[list[str], list[str]]:
        """The labels of the age-limited components possible and not possible at ``age``."""
        limited = [c for c in self.any_of if c.ages is not None]
        inside = [c.ages[0] <= age <= c.ages[1] for c in limited]
        possible = [c.label or c.table for c, ok in zip(limited, inside, strict=True) if ok]
        other = [c.label or c.table for c, ok in zip(limited, inside, strict=True) if not ok]
        return possible, other


class Outcomes(RootModel[dict[str, Outcome]]):
    """The outcomes a partnership models, by name."""

    def __getitem__(self, name: str) -> Outcome:
        try:
            return self.root[name]
        except KeyError:
            raise KeyError(f"no outcome {name!r}; defined: {sorted(self.root)}") from None

    def __iter__(self):
        return iter(self.root)

    def items(self):
        """(name, outcome) pairs."""
        return self.root.items()


def load_outcomes(path: Path | None = None) -> Outcomes:
    """Read outcome definitions from YAML (default: the package's ``outcomes.yaml``)."""
    path = Path(path) if path else DEFAULT_OUTCOMES
    return Outcomes.model_validate(yaml.safe_load(path.read_text()))


def outcome_dates(records: Records, outcome: Outcome) -> pd.DataFrame:
    """Every record that counts as the outcome: child position and date."""
    parts = []
    for component in outcome.any_of:
        rows = records.tables[component.table]
        hits = rows[component.matches(rows)]
        parts.append(
            pd.DataFrame(
                {"_child": hits["_child"].to_numpy(), "date": hits[DATE_COLUMN[component.table]]}
            )
        )
    return pd.concat(parts, ignore_index=True).sort_values("date", kind="stable")


def label(
    events: pd.DataFrame,
    children: np.ndarray,
    t: pd.Timestamp,
    window_months: int,
    observed_until: pd.Timestamp,
    n_children: int,
) -> np.ndarray:
    """1 where a child has an outcome record in ``(t, t + window]``, else 0.

    NaN for every child when the window runs past ``observed_until``: the outcome is not
    yet known, and 0 would be a false "no".
    """
    end = t + pd.DateOffset(months=window_months)
    if end > observed_until:
        return np.full(len(children), np.nan)
    dates = events["date"].to_numpy()
    hit = (dates > np.datetime64(t)) & (dates <= np.datetime64(end))
    flags = np.bincount(events["_child"].to_numpy()[hit], minlength=n_children) > 0
    return flags[children].astype(float)
