"""Who each synthetic child really is: names, date of birth, address and identifiers.

This is the truth the agencies' records are noisy copies of. It is made from the
partnership's ``children`` table (sex, ethnicity, month of birth, area) and its families
(siblings share a surname and an address), with names from Faker's locale providers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from faker import Faker

from linkage.identifiers import make_nhs_numbers, make_upns
from linkage.synth.config import Names

LA_CODE = "999"
"""The synthetic local authority's code in its UPNs (no real authority has it)."""


def name_pools(names: Names, seed: int) -> dict[str, dict[str, list[str]]]:
    """Per Faker locale, pools of forenames by sex and of surnames (repeats kept)."""
    pools: dict[str, dict[str, list[str]]] = {}
    locales = sorted({loc for weights in names.locales.values() for loc in weights})
    for i, locale in enumerate(locales):
        fake = Faker(locale)
        fake.seed_instance(seed * 1000 + i)
        n = names.pool_size
        pools[locale] = {
            "F": [fake.first_name_female() for _ in range(n)],
            "M": [fake.first_name_male() for _ in range(n)],
            "surname": [fake.last_name() for _ in range(n)],
        }
    return pools


def _draw_locale(weights: dict[str, float], rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice(list(weights), size=n, p=list(weights.values()))


def _draw(pools, locales: np.ndarray, key, rng: np.random.Generator) -> list[str]:
    out = []
    for locale, k in zip(locales, key, strict=True):
        pool = pools[locale][k]
        out.append(pool[rng.integers(len(pool))])
    return out


def make_people(
    children: pd.DataFrame, family: pd.Series, names: Names, rng: np.random.Generator
) -> pd.DataFrame:
    """The true identity of every child.

    Parameters
    ----------
    children : pd.DataFrame
        The contract's ``children`` table (``child_id``, ``birth_month``, ``sex``,
        ``ethnicity``, ``area``).
    family : pd.Series
        Each child's family number, indexed by ``child_id``: siblings share a surname and
        a home.
    names : Names
        Locales by group and the share of double surnames.
    rng : numpy.random.Generator

    Returns
    -------
    pd.DataFrame
        ``child_id, forename, surname, dob, sex, ethnicity, area, postcode, upn,
        nhs_number``, one row per child.
    """
    kids = children.reset_index(drop=True)
    n = len(kids)
    pools = name_pools(names, int(rng.integers(1 << 30)))
    groups = kids["ethnicity"].to_numpy()
    fam = family.reindex(kids["child_id"]).to_numpy()
    fam = np.where(pd.isna(fam), -1 - np.arange(n), fam).astype(np.int64)

    forename_locale = np.empty(n, dtype=object)
    surname_locale = np.empty(n, dtype=object)
    for group, weights in names.locales.items():
        at = np.flatnonzero(groups == group)
        forename_locale[at] = _draw_locale(weights, rng, len(at))
        second = _draw_locale(weights, rng, len(at)) if group == "Mixed" else None
        surname_locale[at] = second if second is not None else forename_locale[at]
    forename = _draw(pools, forename_locale, kids["sex"].to_numpy(), rng)

    # One surname and one home per family: the first child's draws stand for all of them.
    first_of_family = pd.Series(np.arange(n)).groupby(fam).transform("min").to_numpy()
    own_surname = _draw(pools, surname_locale, ["surname"] * n, rng)
    double = rng.random(n) < names.double_surname
    second_surname = _draw(pools, surname_locale, ["surname"] * n, rng)
    joiner = np.where(rng.random(n) < 0.7, "-", " ")
    surname = np.array(
        [
            f"{a}{j}{b}" if d and a != b else a
            for a, b, d, j in zip(own_surname, second_surname, double, joiner, strict=True)
        ],
        dtype=object,
    )[first_of_family]

    area = kids["area"].to_numpy()
    postcode = np.array(family_postcodes(area, rng), dtype=object)[first_of_family]
    days = kids["birth_month"].dt.days_in_month.to_numpy()
    dob = kids["birth_month"] + pd.to_timedelta(rng.integers(0, days), unit="D")

    return pd.DataFrame(
        {
            "child_id": kids["child_id"].to_numpy(),
            "forename": forename,
            "surname": surname,
            "dob": dob.to_numpy(),
            "sex": kids["sex"].to_numpy(),
            "ethnicity": groups,
            "area": area,
            "postcode": postcode,
            "upn": make_upns(LA_CODE, rng, n),
            "nhs_number": make_nhs_numbers(rng, n),
        }
    )


def area_postcodes(areas: np.ndarray) -> dict[str, list[str]]:
    """Synthetic postcodes for each area, in the UK's format with the unused area letters XL.

    Each area gets one postcode district (``XL<k>``) and enough units for its homes.
    """
    out = {}
    letters = [a + b for a in "ABDEFGHJLNPQRSTUWXYZ" for b in "ABDEFGHJLNPQRSTUWXYZ"]
    for k, area in enumerate(sorted(set(areas))):
        count = int((areas == area).sum())
        units = max(20, count // 3)
        out[area] = [
            f"XL{k + 1} {1 + u // len(letters) % 9}{letters[u % len(letters)]}"
            for u in range(units)
        ]
    return out


def family_postcodes(area: np.ndarray, rng: np.random.Generator) -> list[str]:
    """A postcode in each child's area (only the first child of a family's is used)."""
    pools = area_postcodes(area)
    return [pools[a][rng.integers(len(pools[a]))] for a in area]


def postcode_lookup(people: pd.DataFrame) -> pd.DataFrame:
    """Every synthetic postcode and its area: the partnership's copy of a postcode directory."""
    pools = area_postcodes(people["area"].to_numpy())
    rows = [(pc, area) for area, pcs in pools.items() for pc in pcs]
    return pd.DataFrame(rows, columns=["postcode", "area"])
