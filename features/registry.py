"""The feature registry: each feature is one small function named after its column.

A feature function takes an :class:`~features.pointintime.AsOf` view of the partnership's
records at a snapshot date and returns one value per child in that snapshot's cohort. Its
one-line docstring is the phrase a practitioner reads in an explanation, so it is written for
them. The :func:`feature` decorator records the rest (source, window, unit, sensitivity, and
the direction a higher value acts in, with the reason for it); the registry is built from the
code, never from a copy of it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

import numpy as np

Unit = Literal["count", "rate", "flag", "years", "months", "days", "points"]
Direction = Literal["raises", "protective", "either"]

MONOTONE = {"raises": 1, "protective": -1, "either": 0}
"""Each declared direction as a LightGBM monotone constraint: a higher value may only raise
the estimate (1), only lower it (-1), or either (0, unconstrained)."""

SOURCES = {
    "children": "Partnership records",
    "school_census": "School",
    "exclusions": "School",
    "social_care": "Children's social care",
    "police": "Police",
    "health": "Health",
    "youth_justice": "Youth justice service",
    "education_status": "Careers and participation service",
    "relationships": "Family and peer links",
    "area": "Neighbourhood",
}
"""Where each source's records come from, as practitioners name the agency."""

_MARK = "__lantern_feature__"


@dataclass(frozen=True)
class FeatureSpec:
    """What the registry knows about one feature.

    Attributes
    ----------
    name : str
        The column name, which is also the function's name.
    description : str
        The plain-English phrase used in explanations (the function's docstring).
    source : str
        The table the feature reads, a key of :data:`SOURCES`.
    window : str
        The look-back window in words, e.g. ``"12 months"``, ``"ever"``, ``"at the date"``.
    unit : str
        How the value reads: a count, a rate (0-1), a flag (0/1), years, months or days.
    sensitive : bool
        Special-category or otherwise sensitive; a model uses it only where its feature-set
        config says so, with a written justification.
    context : bool
        Read by the model but never named as a reason: a prompt shows it as the context the
        estimate is made in (age: who the outcome can happen to), not as a finding.
    func : callable
        ``func(asof) -> np.ndarray`` of floats, NaN where the value is not known.
    direction : {"raises", "protective", "either"}
        What a higher value does to the likelihood of the outcomes: raises concern, is
        protective, or either (no one direction; the model is left free). Training makes the
        model keep to it (:data:`MONOTONE`).
    why : str
        The one-line reason for the direction: a source or domain knowledge.
    no : str
        For a flag, the phrase a practitioner reads when it is not set ("Has never been
        looked after by the local authority"); empty for other units.
    lever : str
        For a record that can change (attendance, suspensions, NEET status, missing
        episodes; not history, area or age): the name of the change it belongs to, shared by
        the features that move together. Empty when it is not actionable.
    typical : float or None
        The actionable feature's typical level, the value "what would change" moves it to
        (attendance 95%, no suspensions).
    """

    name: str
    description: str
    source: str
    window: str
    unit: Unit
    sensitive: bool
    func: Callable[..., np.ndarray]
    context: bool = False
    direction: Direction = "either"
    why: str = ""
    no: str = ""
    lever: str = ""
    typical: float | None = None

    @property
    def monotone(self) -> int:
        """The direction as a LightGBM monotone constraint (1, -1 or 0)."""
        return MONOTONE[self.direction]

    @property
    def agency(self) -> str:
        """The agency a practitioner would name for this feature's records."""
        return SOURCES[self.source]

    def phrase(self, value: float) -> str:
        """The description with the value, e.g. ``"Attendance over the last term: 71%"``."""
        return f"{self.description.rstrip('.')}: {format_value(value, self.unit)}"

    def reads(self, value: float) -> str:
        """The record as a sentence: a flag reads as itself or its ``no`` phrase ("Has never
        been looked after by the local authority"), anything else as :meth:`phrase`."""
        if self.unit == "flag" and self.no and not np.isnan(value):
            return self.description.rstrip(".") if value >= 0.5 else self.no
        return self.phrase(value)


def format_value(value: float, unit: str) -> str:
    """Format a feature value for a person to read, ``"not recorded"`` when missing."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "not recorded"
    if unit == "rate":
        return f"{value:.0%}"
    if unit == "flag":
        return "yes" if value >= 0.5 else "no"
    if unit == "points":
        return f"{value:+.0f} percentage points"
    if unit in ("count", "years", "months", "days"):
        number = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
        return number if unit == "count" else f"{number} {unit}"
    return f"{value:g}"


def feature(
    *,
    source: str,
    window: str,
    unit: Unit,
    direction: Direction,
    why: str,
    no: str = "",
    lever: str = "",
    typical: float | None = None,
    sensitive: bool = False,
    context: bool = False,
) -> Callable[[Callable[..., np.ndarray]], Callable[..., np.ndarray]]:
    """Mark a function as a feature; its name is the column, its docstring the phrase.

    Parameters
    ----------
    source : str
        The table it reads (a key of :data:`SOURCES`).
    window : str
        The look-back window, in words.
    unit : {"count", "rate", "flag", "years", "months", "days", "points"}
        How its value reads.
    direction : {"raises", "protective", "either"}
        What a higher value does to the likelihood of the outcomes (see :class:`FeatureSpec`).
    why : str
        One line: the source or domain knowledge the direction rests on.
    no : str
        For a flag (and only a flag), the phrase read when it is not set.
    lever : str
        For an actionable record, the change it belongs to (see :class:`FeatureSpec`).
    typical : float, optional
        An actionable record's typical level; given exactly when ``lever`` is.
    sensitive : bool, default False
        Whether the feature is sensitive (used only where a feature set justifies it).
    context : bool, default False
        Whether a prompt shows it as context, never as a reason (see :class:`FeatureSpec`).
    """
    if source not in SOURCES:
        raise ValueError(f"unknown feature source {source!r}; use one of {sorted(SOURCES)}")
    if direction not in MONOTONE:
        raise ValueError(
            f"unknown feature direction {direction!r}; use one of {sorted(MONOTONE)} "
            "(what a higher value does to the likelihood)"
        )
    if (unit == "flag") != bool(no.strip()):
        raise ValueError(
            "a flag needs its `no` phrase (what a practitioner reads when it is not set, e.g. "
            "'Has never been looked after by the local authority'), and only a flag has one"
        )
    if bool(lever) != (typical is not None):
        raise ValueError(
            "an actionable feature names its `lever` and its `typical` level together (the "
            "value 'what would change' moves it to); other features give neither"
        )
    if not why.strip() or "\n" in why:
        raise ValueError(
            "a feature's direction needs a one-line reason (`why`): the source or domain "
            "knowledge it rests on"
        )

    def mark(func: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        doc = inspect.getdoc(func)
        if not doc or "\n" in doc.strip():
            raise ValueError(
                f"feature {func.__name__} needs a one-line docstring: the phrase a "
                "practitioner reads in an explanation"
            )
        meta = dict(
            source=source,
            window=window,
            unit=unit,
            sensitive=sensitive,
            context=context,
            direction=direction,
            why=why,
            no=no,
            lever=lever,
            typical=typical,
        )
        setattr(func, _MARK, meta)
        return func

    return mark


class Registry(Mapping[str, FeatureSpec]):
    """An ordered, read-only collection of features, looked up by column name."""

    def __init__(self, specs: Iterable[FeatureSpec]):
        self._specs: dict[str, FeatureSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ValueError(f"feature {spec.name!r} is defined twice")
            self._specs[spec.name] = spec
        self._groups: dict[tuple[str, ...], dict[str, list[str]]] = {}

    @classmethod
    def from_modules(cls, modules: Iterable[ModuleType]) -> Registry:
        """Collect every function marked with :func:`feature` in the modules, in order."""
        specs = []
        for module in modules:
            for name, func in vars(module).items():
                meta = getattr(func, _MARK, None)
                if meta is None or func.__module__ != module.__name__:
                    continue
                specs.append(
                    FeatureSpec(name=name, description=inspect.getdoc(func), func=func, **meta)
                )
        return cls(specs)

    def __getitem__(self, name: str) -> FeatureSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise KeyError(f"no feature named {name!r}; `lantern registry` lists them") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def select(self, names: Iterable[str]) -> Registry:
        """A registry of just these features, in the order given."""
        return Registry(self[name] for name in names)

    def sources(self) -> set[str]:
        """The sources the features read."""
        return {spec.source for spec in self.values()}

    def by_source(self, names: Iterable[str]) -> dict[str, list[str]]:
        """These features grouped by the source each reads, sources in order of first
        appearance (kept: the registry is read-only and a service asks on every prompt)."""
        key = tuple(names)
        if key not in self._groups:
            groups: dict[str, list[str]] = {}
            for name in key:
                groups.setdefault(self[name].source, []).append(name)
            self._groups[key] = groups
        return self._groups[key]


def default_registry() -> Registry:
    """Lantern's features, from every module in :mod:`features.definitions`."""
    from features import definitions

    return Registry.from_modules(definitions.MODULES)
