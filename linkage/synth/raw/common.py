"""What every agency's raw extract is made with: its records, their text and their codes.

An agency's *identity frame* (:func:`identities`) holds each of its person records once, as
text, with the ethnicity codes it records; :func:`assign` gives each event row one of the
child's records. Everything here returns text, with an empty string for a missing value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DFE_ETHNICITY = {
    "White": {"WBRI": 0.80, "WOTH": 0.13, "WIRI": 0.04, "WROM": 0.02, "WIRT": 0.01},
    "Mixed": {"MWBC": 0.30, "MWBA": 0.15, "MWAS": 0.25, "MOTH": 0.30},
    "Asian": {"AIND": 0.30, "APKN": 0.35, "ABAN": 0.15, "AOTH": 0.20},
    "Black": {"BAFR": 0.60, "BCRB": 0.25, "BOTH": 0.15},
    "Other": {"OOTH": 0.75, "CHNE": 0.25},
    "Unknown": {"REFU": 0.50, "NOBT": 0.50},
}
"""The DfE ethnicity codes an agency records for a child of each major group, and how often
(assumed shares; the codes are the DfE main list)."""

NHS_ETHNICITY = {
    "WBRI": "A", "WIRI": "B", "WIRT": "C", "WOTH": "C", "WROM": "C",
    "MWBC": "D", "MWBA": "E", "MWAS": "F", "MOTH": "G",
    "AIND": "H", "APKN": "J", "ABAN": "K", "AOTH": "L",
    "BCRB": "M", "BAFR": "N", "BOTH": "P",
    "CHNE": "R", "OOTH": "S", "REFU": "Z", "NOBT": "99",
}  # fmt: skip
"""The NHS ETHNIC CATEGORY (2001 census letters) nearest each DfE code."""


def text(values) -> np.ndarray:
    """``values`` as strings, with an empty string for each missing value."""
    series = pd.Series(values, dtype=object)
    return np.array(["" if pd.isna(v) else str(v) for v in series], dtype=object)


def dates(values, fmt: str = "%Y-%m-%d") -> np.ndarray:
    """Dates written with the strftime format ``fmt``; an empty string for a missing date."""
    stamps = pd.to_datetime(pd.Series(values), errors="raise")
    return text(stamps.dt.strftime(fmt))


def numbers(values) -> np.ndarray:
    """Numbers as text: a whole number without a decimal point, a missing one empty."""
    return np.array(
        ["" if pd.isna(v) else str(int(v)) if float(v).is_integer() else str(float(v))
         for v in pd.Series(values, dtype=object)],
        dtype=object,
    )  # fmt: skip


def recode(values, codes: dict, what: str) -> np.ndarray:
    """Each value's code in ``codes``; ``what`` names the values in the error for another."""
    values = pd.Series(values, dtype=object).to_numpy()
    unknown = sorted({str(v) for v in values if v not in codes})
    if unknown:
        raise ValueError(f"no code for {what} {', '.join(unknown)}")
    return np.array([codes[v] for v in values], dtype=object)


def flags(values, yes: str, no: str) -> np.ndarray:
    """``yes`` where a boolean is true, else ``no``."""
    return np.where(np.asarray(values, dtype=bool), yes, no).astype(object)


def draw(keys, choices: dict[str, dict[str, float]], rng: np.random.Generator) -> np.ndarray:
    """For each key, a code drawn from ``choices[key]`` (code to share)."""
    keys = pd.Series(keys, dtype=object).to_numpy()
    out = np.empty(len(keys), dtype=object)
    unknown = sorted({str(k) for k in keys if k not in choices})
    if unknown:
        raise ValueError(f"no codes for {', '.join(unknown)}")
    for key, shares in choices.items():
        at = np.flatnonzero(keys == key)
        if len(at):
            out[at] = pick(shares, len(at), rng)
    return out


def pick(shares: dict[str, float], n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` codes drawn from ``shares`` (code to share)."""
    p = np.array(list(shares.values()), dtype=float)
    return rng.choice(list(shares), size=n, p=p / p.sum()).astype(object)


def identities(records: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One agency's person records as text, each with the ethnicity codes it records.

    Parameters
    ----------
    records : pd.DataFrame
        The agency's rows of :func:`linkage.synth.noise.agency_records`.
    rng : numpy.random.Generator

    Returns
    -------
    pd.DataFrame
        ``record_id, child_id, forename, surname, dob`` (datetime, missing as NaT), ``sex``
        (M/F), ``postcode, upn, nhs_number``, ``dfe_ethnicity`` (a DfE code, drawn once per
        record from the child's major group) and ``nhs_ethnicity`` (its NHS letter).
    """
    dfe = draw(records["ethnicity"], DFE_ETHNICITY, rng)
    return pd.DataFrame(
        {
            "record_id": text(records["source_record_id"]),
            "child_id": text(records["child_id"]),
            "forename": text(records["forename"]),
            "surname": text(records["surname"]),
            "dob": pd.to_datetime(records["dob"]).to_numpy(),
            "sex": text(records["sex"]),
            "postcode": text(records["postcode"]),
            "upn": text(records["upn"]),
            "nhs_number": text(records["nhs_number"]),
            "dfe_ethnicity": dfe,
            "nhs_ethnicity": np.array([NHS_ETHNICITY[c] for c in dfe], dtype=object),
        }
    )


def assign(child_ids, who: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """For each event, one of its child's records, chosen at random when there are several.

    Parameters
    ----------
    child_ids : array-like of str
        The ``child_id`` of each event row.
    who : pd.DataFrame
        The agency's identity frame (:func:`identities`).
    rng : numpy.random.Generator

    Returns
    -------
    pd.DataFrame
        Rows of ``who``, one per event, in the events' order.

    Raises
    ------
    ValueError
        If a child has events but the agency holds no record of them.
    """
    order = who.sort_values("child_id", kind="stable").reset_index(drop=True)
    held, first, count = np.unique(
        order["child_id"].to_numpy(dtype=object), return_index=True, return_counts=True
    )
    wanted = pd.Series(child_ids, dtype=object).to_numpy()
    at = pd.Index(held).get_indexer(wanted)
    if (at < 0).any():
        missing = sorted({str(c) for c in wanted[at < 0]})
        raise ValueError(f"no record of {len(missing)} children with events: {missing[:5]}")
    pick = first[at] + (rng.random(len(wanted)) * count[at]).astype(np.int64)
    return order.iloc[pick].reset_index(drop=True)


def frame(columns: tuple[str, ...], data: dict[str, object]) -> pd.DataFrame:
    """A raw file: ``data``'s columns as text, in the order of ``columns`` (all required)."""
    if set(data) != set(columns):
        raise ValueError(f"columns {sorted(set(data) ^ set(columns))} do not match the file's")
    length = {len(v) for v in data.values()}
    if len(length) > 1:
        raise ValueError("columns of different lengths")
    return pd.DataFrame({c: text(data[c]) for c in columns}, dtype=str)


def links(pairs: pd.DataFrame, who: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The relationship rows (``child_id``, ``related_child_id``) whose two children this
    agency both holds, each side under one of that child's records: ``record_id`` and
    ``related_record_id``."""
    held = set(who["child_id"])
    both = pairs[pairs["child_id"].isin(held) & pairs["related_child_id"].isin(held)]
    both = both.reset_index(drop=True)
    return pd.DataFrame(
        {
            "record_id": assign(both["child_id"], who, rng)["record_id"].to_numpy(),
            "related_record_id": assign(both["related_child_id"], who, rng)["record_id"].to_numpy(),
        }
    )
