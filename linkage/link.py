"""Link every agency's records into children, and turn them into the contract's extracts.

:func:`link` is the chain: standardise the person records, score pairs with the Splink
model (:mod:`linkage.model`), apply a reviewer's decisions, cluster at the threshold, give
each cluster its pseudonymous ``child_id`` (kept from the last quarter's crosswalk), and
build the ``children`` table from what the cluster's records agree on. It writes nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.contract import SCHEMAS
from features.contract.schemas import date_columns
from linkage.clusters import (
    KEY,
    apply_decisions,
    assign_ids,
    check_decisions,
    cluster,
    record_confidence,
    review_pairs,
)
from linkage.ingest import Ingested, normal_postcode
from linkage.model import score_pairs, standardise

PRIORITY = ("school", "social_care", "health", "careers", "youth_justice", "police")
"""Whose record wins a tie when a cluster's records disagree on sex, birth month or ethnicity."""

UNKNOWN_AREA = "unknown"
"""The ``area`` of a child none of whose records has a postcode in the postcode directory."""


class LinkSettings(BaseModel):
    """How records are linked.

    Attributes
    ----------
    threshold : float
        A pair scoring at least this is a link (its records are one child).
    review_from : float
        Pairs scoring from here up to ``threshold`` go to clerical review.
    floor : float
        Pairs scoring below this are not kept at all.
    seed : int
        Seed of the model's random sampling.
    engine : {"duckdb", "spark"}
    """

    model_config = ConfigDict(extra="forbid")
    threshold: float = Field(0.9, gt=0, lt=1)
    review_from: float = Field(0.5, gt=0, lt=1)
    floor: float = Field(0.05, gt=0, lt=1)
    seed: int = 0
    engine: str = "duckdb"

    @model_validator(mode="after")
    def _ordered(self):
        if not self.floor <= self.review_from <= self.threshold:
            raise ValueError("need floor <= review_from <= threshold")
        return self


@dataclass
class Linked:
    """The result of one linkage run.

    Attributes
    ----------
    tables : dict of str to pd.DataFrame
        The contract's extracts, keyed by ``child_id``, with no identity field.
    crosswalk : pd.DataFrame
        ``source, source_record_id, child_id, match_probability`` (the record's confidence
        of belonging to its child).
    records : pd.DataFrame
        The standardised person records with their ``child_id`` (kept with the linkage).
    pairs : pd.DataFrame
        Every scored pair above the floor, with both records' keys.
    review : pd.DataFrame
        The uncertain pairs for clerical review.
    model : dict
        The trained Splink model.
    settings : LinkSettings
    seconds : dict of str to float
        Time of each step.
    conflicts : dict of str to int
        Rows left out per table because they cannot belong to their linked child.
    """

    tables: dict[str, pd.DataFrame]
    crosswalk: pd.DataFrame
    records: pd.DataFrame
    pairs: pd.DataFrame
    review: pd.DataFrame
    model: dict
    settings: LinkSettings
    seconds: dict[str, float] = field(default_factory=dict)
    conflicts: dict[str, int] = field(default_factory=dict)


def link(
    ingested: Ingested,
    settings: LinkSettings,
    key: bytes,
    *,
    previous: pd.DataFrame | None = None,
    decisions: pd.DataFrame | None = None,
    spark=None,
) -> Linked:
    """Link the ingested records into children.

    Parameters
    ----------
    ingested : Ingested
        Every agency's rows and person records (:func:`linkage.ingest.ingest`), without
        problems.
    settings : LinkSettings
    key : bytes
        The partnership's linkage key: new ``child_id`` values are keyed hashes.
    previous : pd.DataFrame, optional
        Last quarter's crosswalk: its children keep their ids.
    decisions : pd.DataFrame, optional
        A reviewer's decisions on pairs (the review file, filled in).
    spark : pyspark.sql.SparkSession, optional
        For ``settings.engine == "spark"``.
    """
    if ingested.problems:
        raise ValueError("the extracts have problems; correct them before linking")
    seconds = {}
    started = time.perf_counter()
    people = ingested.people.reset_index(drop=True)
    decided = None if decisions is None else check_decisions(decisions, people)
    records = standardise(people)
    seconds["standardise"] = time.perf_counter() - started

    started = time.perf_counter()
    pairs, model = score_pairs(
        records,
        min_probability=settings.floor,
        seed=settings.seed,
        engine=settings.engine,
        spark=spark,
    )
    seconds["score"] = time.perf_counter() - started

    started = time.perf_counter()
    pairs = apply_decisions(pairs, people.assign(unique_id=records["unique_id"]), decided)
    labels = cluster(len(records), pairs, settings.threshold, records[["upn", "nhs_number"]])
    confidence = record_confidence(len(records), pairs, labels)
    child_id = assign_ids(people, labels, key, previous)
    records["child_id"] = child_id
    crosswalk = people[KEY].copy()
    crosswalk["child_id"] = child_id
    crosswalk["match_probability"] = confidence
    review = review_pairs(records, pairs, people, settings.review_from, settings.threshold)
    seconds["cluster"] = time.perf_counter() - started

    started = time.perf_counter()
    conflicts: dict[str, int] = {}
    tables = contract_tables(ingested, crosswalk, people, conflicts)
    seconds["assemble"] = time.perf_counter() - started
    keyed = pairs.copy()
    for side in ("l", "r"):
        ids = people[KEY].iloc[keyed[f"unique_id_{side}"].to_numpy()].reset_index(drop=True)
        keyed[f"source_{side}"] = ids["source"].to_numpy()
        keyed[f"source_record_id_{side}"] = ids["source_record_id"].to_numpy()
    return Linked(tables, crosswalk, records, keyed, review, model, settings, seconds, conflicts)


def contract_tables(
    ingested: Ingested,
    crosswalk: pd.DataFrame,
    people: pd.DataFrame,
    conflicts: dict[str, int] | None = None,
) -> dict[str, pd.DataFrame]:
    """The extracts by ``child_id``: every agency's rows, and the ``children`` spine.

    A child none of whose records gives a date of birth (or sex) cannot be placed in a
    cohort: it and its rows are left out of the extracts (the crosswalk keeps them, and the
    report counts them). A row that cannot belong to its child once linked (a second row
    for the same term, a date before the child's birth month) is left out and counted in
    ``conflicts``.
    """
    conflicts = {} if conflicts is None else conflicts
    children = children_table(people, crosswalk["child_id"], ingested.postcodes)
    placed = children["birth_month"].notna() & children["sex"].notna()
    kept = set(children.loc[placed, "child_id"])
    ids = crosswalk.set_index(KEY)["child_id"]
    tables = {}
    for name, rows in ingested.tables.items():
        index = pd.MultiIndex.from_frame(rows[KEY])
        frame = rows.drop(columns=KEY)
        frame.insert(0, "child_id", ids.reindex(index).to_numpy())
        if "related_child_id" in frame:
            frame = _related(frame, rows, ids)
        frame = frame[frame["child_id"].isin(kept)]
        if "related_child_id" in frame:
            frame = frame[frame["related_child_id"].isin(kept)]
        before = len(frame)
        unique = SCHEMAS[name].unique
        if unique:
            # Two records linked into one child may both hold the same term: keep one.
            frame = frame.drop_duplicates(list(unique), keep="first")
        born = frame["child_id"].map(children.set_index("child_id")["birth_month"])
        for column in date_columns(name):
            frame, born = frame[~(frame[column] < born)], born[~(frame[column] < born)]
        if len(frame) < before:
            conflicts[name] = before - len(frame)
        tables[name] = frame[list(SCHEMAS[name].columns)].reset_index(drop=True)
    tables["children"] = children[placed].reset_index(drop=True)
    return tables


def _related(frame: pd.DataFrame, rows: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    """A relationship's other side, read as a person reference of the same agency, as its
    linked ``child_id``; a link between two records of one child, or repeated, is dropped."""
    other = pd.MultiIndex.from_arrays([rows["source"], rows["related_child_id"]])
    frame = frame.assign(related_child_id=ids.reindex(other).to_numpy())
    frame = frame[frame["related_child_id"].notna()]
    frame = frame[frame["child_id"] != frame["related_child_id"]]
    return frame.drop_duplicates(["child_id", "related_child_id", "relationship"])


def children_table(
    people: pd.DataFrame, child_id: pd.Series, postcodes: pd.DataFrame | None
) -> pd.DataFrame:
    """One row per child: what most of its records say, the first agency of :data:`PRIORITY`
    breaking a tie; its area from the newest record whose postcode the directory knows."""
    frame = people.copy()
    frame["child_id"] = child_id.to_numpy()
    frame["rank"] = frame["source"].map({s: i for i, s in enumerate(PRIORITY)}).fillna(99)
    frame["birth_month"] = pd.to_datetime(frame["dob"]).dt.to_period("M").dt.to_timestamp()
    known = frame["ethnicity"].where(frame["ethnicity"] != "Unknown")
    frame["known_ethnicity"] = known
    out = pd.DataFrame({"child_id": np.unique(frame["child_id"])}).set_index("child_id")
    out["birth_month"] = _consensus(frame, "birth_month").reindex(out.index)
    out["sex"] = _consensus(frame, "sex").reindex(out.index)
    out["ethnicity"] = _consensus(frame, "known_ethnicity").reindex(out.index).fillna("Unknown")
    out["area"] = _area(frame, postcodes).reindex(out.index)
    return out.reset_index()[list(SCHEMAS["children"].columns)]


def _consensus(frame: pd.DataFrame, column: str) -> pd.Series:
    held = frame.loc[frame[column].notna(), ["child_id", column, "rank"]]
    votes = held.groupby(["child_id", column]).agg(n=("rank", "size"), best=("rank", "min"))
    votes = votes.reset_index().sort_values(["n", "best"], ascending=[False, True])
    return votes.drop_duplicates("child_id").set_index("child_id")[column]


def _area(frame: pd.DataFrame, postcodes: pd.DataFrame | None) -> pd.Series:
    if postcodes is None:
        return pd.Series(UNKNOWN_AREA, index=np.unique(frame["child_id"]))
    lookup = postcodes.set_index("postcode")["area"]
    frame = frame.assign(area=frame["postcode"].map(normal_postcode).map(lookup))
    newest = frame[frame["area"].notna()].sort_values(
        ["last_seen", "rank"], ascending=[False, True], na_position="last"
    )
    area = newest.drop_duplicates("child_id").set_index("child_id")["area"]
    return area.reindex(np.unique(frame["child_id"])).fillna(UNKNOWN_AREA)
