"""Each agency's copy of a child's identity, with the errors real records have.

Pure functions of the true identities (:func:`linkage.synth.people.make_people`), the
noise settings and a random generator; one function per kind of error.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd

from linkage.synth.config import Names, Noise

IDENTITY = ("forename", "surname", "dob", "sex", "postcode", "upn", "nhs_number")
"""The identity fields of a person record, as :func:`agency_records` returns them."""


def agency_records(
    people: pd.DataFrame,
    holders: dict[str, np.ndarray],
    noise: Noise,
    names: Names,
    postcodes: list[str],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The person records every agency holds, each a noisy copy of a true identity.

    Parameters
    ----------
    people : pd.DataFrame
        True identities, one row per child.
    holders : dict of str to numpy.ndarray
        For each agency, the ``child_id`` of every child it holds records of.
    noise : Noise
        Completeness of identifiers per agency and rates of each error.
    names : Names
        Short forms and romanisations.
    postcodes : list of str
        Every postcode in the partnership (an earlier address is drawn from them).
    rng : numpy.random.Generator

    Returns
    -------
    pd.DataFrame
        ``source, source_record_id, child_id`` and the :data:`IDENTITY` fields; a child an
        agency holds twice has two rows with the same ``child_id``.
    """
    frames = []
    truth = people.set_index("child_id")
    for source, ids in holders.items():
        agency = noise.agencies[source]
        ids = np.asarray(sorted(set(ids)))
        twice = ids[rng.random(len(ids)) < agency.duplicate]
        ids = np.concatenate([ids, twice])
        records = truth.loc[ids].reset_index()
        records = _corrupt(records, agency, noise, names, postcodes, rng)
        records.insert(0, "source", source)
        records.insert(1, "source_record_id", _record_ids(source, len(records), rng))
        frames.append(records)
    out = pd.concat(frames, ignore_index=True)
    return out[["source", "source_record_id", "child_id", *IDENTITY, "ethnicity"]]


PREFIX = {
    "school": "PUP",
    "social_care": "LA",
    "police": "NOM",
    "health": "MRN",
    "youth_justice": "YJ",
    "careers": "NC",
}
"""How each agency's own person reference starts (documented in the raw formats)."""


def _record_ids(source: str, n: int, rng: np.random.Generator) -> list[str]:
    serials = rng.choice(10**7, size=n, replace=False)
    return [f"{PREFIX.get(source, source[:3].upper())}{s:07d}" for s in serials]


def _corrupt(records, agency, noise: Noise, names: Names, postcodes, rng) -> pd.DataFrame:
    r = records.copy()
    groups = r["ethnicity"].to_numpy()

    def hit(p) -> np.ndarray:
        return rng.random(len(r)) < np.asarray(p)

    def rate(error: str) -> list[float]:
        return noise.rate(error, groups)

    r["forename"] = _names(r["forename"], names, rate, hit, rng, forename=True)
    r["surname"] = _names(r["surname"], names, rate, hit, rng, forename=False)
    swap = hit(rate("name_order_swapped"))
    r.loc[swap, ["forename", "surname"]] = r.loc[swap, ["surname", "forename"]].to_numpy()

    dob = r["dob"].copy()
    swap = hit(rate("dob_day_month_swap")) & (dob.dt.day <= 12) & (dob.dt.day != dob.dt.month)
    dob[swap] = pd.to_datetime(
        {"year": dob[swap].dt.year, "month": dob[swap].dt.day, "day": dob[swap].dt.month}
    )
    typo = hit(rate("dob_typo"))
    dob[typo] = dob[typo] + pd.to_timedelta(rng.choice([-10, -1, 1, 10], typo.sum()), unit="D")
    dob[~hit(agency.dob)] = pd.NaT
    r["dob"] = dob

    wrong_sex = hit(rate("sex"))
    r.loc[wrong_sex, "sex"] = r.loc[wrong_sex, "sex"].map({"F": "M", "M": "F"})

    earlier = hit(rate("postcode_earlier"))
    r.loc[earlier, "postcode"] = rng.choice(postcodes, earlier.sum())
    typo = hit(rate("postcode_typo"))
    r.loc[typo, "postcode"] = [_typo(p, rng) for p in r.loc[typo, "postcode"]]
    r.loc[~hit(agency.postcode), "postcode"] = None

    for column, held, factor in (
        ("upn", agency.upn, "upn_missing"),
        ("nhs_number", agency.nhs, "nhs_missing"),
    ):
        missing = np.clip([(1 - held) * f for f in noise.rate(factor, groups)], 0, 1)
        r[column] = _identifier(r[column], 1 - missing, rate("identifier_wrong"), hit, rng)
    return r


def _identifier(values: pd.Series, held, wrong_rate, hit, rng) -> pd.Series:
    out = values.copy().astype(object)
    wrong = hit(wrong_rate)
    out[wrong] = [_typo(v, rng, digits=True) for v in out[wrong]]
    out[~hit(held)] = None
    return out


def _names(values: pd.Series, names: Names, rate, hit, rng, *, forename: bool) -> pd.Series:
    out = values.to_numpy(dtype=object).copy()
    variants = {name: group for group in names.variants for name in group}
    if forename:
        short = hit(rate("nickname"))
        for i in np.flatnonzero(short):
            options = names.nicknames.get(out[i])
            if options:
                out[i] = options[rng.integers(len(options))]
    else:
        part = hit(rate("double_surname_part"))
        for i in np.flatnonzero(part):
            pieces = out[i].replace("-", " ").split()
            if len(pieces) > 1:
                out[i] = pieces[rng.integers(len(pieces))]
    respelt = hit(rate("variant_spelling"))
    for i in np.flatnonzero(respelt):
        words = out[i].split(" ")
        out[i] = " ".join(
            variants[w][rng.integers(len(variants[w]))] if w in variants else w for w in words
        )
    folded = hit(rate("ascii_folded"))
    for i in np.flatnonzero(folded):
        out[i] = ascii_fold(out[i])
    typo = hit(rate("forename_typo" if forename else "surname_typo"))
    for i in np.flatnonzero(typo):
        out[i] = _typo(out[i], rng)
    return pd.Series(out, index=values.index)


def ascii_fold(text: str) -> str:
    """``text`` without diacritics (``"Łukasz"`` becomes ``"Lukasz"``)."""
    text = text.replace("ł", "l").replace("Ł", "L").replace("ı", "i")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _typo(text: str, rng: np.random.Generator, *, digits: bool = False) -> str:
    """One keying error: a character dropped, doubled, replaced or two transposed."""
    if not text or len(text) < 2:
        return text
    i = int(rng.integers(1, len(text)))
    kind = rng.integers(4)
    if kind == 0:
        return text[:i] + text[i + 1 :]
    if kind == 1:
        return text[:i] + text[i] + text[i:]
    if kind == 2:
        pool = "0123456789" if digits else "aeiounrst"
        return text[:i] + pool[rng.integers(len(pool))] + text[i + 1 :]
    return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]
