"""A synthetic partnership's raw agency extracts, and the truth of who is who.

:func:`make_raw` turns a generated partnership (linked by ``child_id``) into what its
agencies would hold: each agency's person records with its own references and noisy
identities, and its files in its published format. :func:`write_raw_partnership` writes
them to ``OUT/raw/`` and the truth to ``OUT/ground_truth/`` (never beside the extracts).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from linkage.synth.config import load_names, load_noise
from linkage.synth.noise import agency_records
from linkage.synth.people import make_people, postcode_lookup
from linkage.synth.raw import raw_extracts, write_raw

RAW = "raw"
IDENTITY = "identity.parquet"
PEOPLE = "people.parquet"

HOLDERS = {
    "school": ("school_census", "exclusions"),
    "social_care": ("social_care",),
    "police": ("police",),
    "health": ("health",),
    "youth_justice": ("youth_justice",),
    "careers": ("education_status",),
}
"""Which contract tables each agency's records come from."""


@dataclass
class RawPartnership:
    """The raw extracts of a synthetic partnership.

    Attributes
    ----------
    files : dict
        ``source -> file name -> DataFrame`` of text, as the agency holds it.
    postcodes : pd.DataFrame
        The postcode directory (``postcode``, ``area``).
    identity : pd.DataFrame
        ``source, source_record_id, person_id``: who each agency record really is.
    people : pd.DataFrame
        ``person_id``, the true identity and groups (``ethnicity``, ``sex``, ``send``,
        ``birth_month``) of each child, for measuring the linkage.
    records : pd.DataFrame
        Every agency person record with its noisy identity.
    """

    files: dict[str, dict[str, pd.DataFrame]]
    postcodes: pd.DataFrame
    identity: pd.DataFrame
    people: pd.DataFrame
    records: pd.DataFrame


def make_raw(
    tables: dict[str, pd.DataFrame],
    family: pd.Series,
    seed: int,
    *,
    names_path: Path | None = None,
    noise_path: Path | None = None,
) -> RawPartnership:
    """Make the raw extracts of the partnership whose contract tables are ``tables``.

    Parameters
    ----------
    tables : dict of str to pd.DataFrame
        The partnership's extracts (linked by ``child_id``).
    family : pd.Series
        Each child's family, indexed by ``child_id`` (siblings share surname and home).
    seed : int
        Seed of the names, noise and references: the same seed, the same raw extracts.
    names_path, noise_path : pathlib.Path, optional
        Settings in place of the package's ``names.yaml`` and ``noise.yaml``.
    """
    rng = np.random.default_rng([seed, 903])
    names, noise = load_names(names_path), load_noise(noise_path)
    people = make_people(tables["children"], family, names, rng)
    postcodes = postcode_lookup(people)
    holders = {
        source: pd.unique(pd.concat([tables[t]["child_id"] for t in names_of]))
        for source, names_of in HOLDERS.items()
    }
    records = agency_records(people, holders, noise, names, postcodes["postcode"].tolist(), rng)
    files = raw_extracts(tables, records, rng)
    identity = records[["source", "source_record_id", "child_id"]].rename(
        columns={"child_id": "person_id"}
    )
    send = (
        tables["school_census"].groupby("child_id")["sen_status"].agg(lambda s: (s != "none").any())
    )
    truth = people.rename(columns={"child_id": "person_id"})
    truth["send"] = np.where(send.reindex(truth["person_id"], fill_value=False), "SEND", "no SEND")
    truth["birth_month"] = (
        tables["children"]
        .set_index("child_id")["birth_month"]
        .reindex(truth["person_id"])
        .to_numpy()
    )
    return RawPartnership(files, postcodes, identity, truth, records)


def write_raw_partnership(raw: RawPartnership, out: Path) -> Path:
    """Write ``OUT/raw/`` (the extracts and the postcode directory) and the truth files
    ``OUT/ground_truth/identity.parquet`` and ``people.parquet``."""
    out = Path(out)
    write_raw(raw.files, raw.postcodes, out / RAW)
    truth = out / "ground_truth"
    truth.mkdir(parents=True, exist_ok=True)
    for name, frame in ((IDENTITY, raw.identity), (PEOPLE, raw.people)):
        partial = truth / f".{name}.partial"
        frame.to_parquet(partial, index=False)
        os.replace(partial, truth / name)
    return out / RAW
