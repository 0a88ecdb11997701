"""From scored pairs to children: clusters, their pseudonymous ids, and the clerical review.

Pure steps over pandas frames: :func:`apply_decisions` (a reviewer's match / non-match),
:func:`cluster` (connected components of the pairs at or above the threshold),
:func:`record_confidence`, :func:`assign_ids` (the same child keeps the same id from quarter to
quarter) and :func:`review_pairs` (the uncertain pairs, for a person to decide).
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from linkage.identifiers import is_valid_nhs_number, is_valid_upn

KEY = ["source", "source_record_id"]
DECISIONS = ("match", "non-match")


DECISION_COLUMNS = ("source_l", "source_record_id_l", "source_r", "source_record_id_r", "decision")


def check_decisions(decisions: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """The decided rows of a reviewer's file, checked before anything is scored.

    Raises
    ------
    ValueError
        For a missing column, a decision other than ``match`` / ``non-match`` (an empty cell
        is undecided), or a pair naming a record these extracts do not hold.
    """
    absent = [c for c in DECISION_COLUMNS if c not in decisions.columns]
    if absent:
        raise ValueError(
            f"the decisions file has no {', '.join(absent)} column; give the review.csv "
            "that lantern link wrote, with its decision column filled in"
        )
    bad = sorted(set(decisions["decision"].dropna()) - set(DECISIONS) - {""})
    if bad:
        raise ValueError(
            f"decisions {', '.join(map(repr, bad))} are not understood; write match or "
            "non-match (or leave the cell empty to decide later)"
        )
    decided = decisions[decisions["decision"].isin(DECISIONS)]
    held = pd.MultiIndex.from_frame(records[KEY])
    left = pd.MultiIndex.from_frame(decided[["source_l", "source_record_id_l"]])
    right = pd.MultiIndex.from_frame(decided[["source_r", "source_record_id_r"]])
    known = left.isin(held) & right.isin(held)
    if not known.all():
        missing = decided[~known].head(3)
        shown = "; ".join(
            f"{r.source_l}/{r.source_record_id_l} and {r.source_r}/{r.source_record_id_r}"
            for r in missing.itertuples()
        )
        raise ValueError(
            f"{int((~known).sum())} decided pairs name records not in these extracts ({shown}); "
            "remove them from the decisions file or check the extracts"
        )
    return decided


def apply_decisions(
    pairs: pd.DataFrame, records: pd.DataFrame, decided: pd.DataFrame | None
) -> pd.DataFrame:
    """Pairs with a reviewer's decisions applied: a match scores 1, a non-match 0.

    ``decided`` holds the decided rows (:func:`check_decisions`) of the review file
    :func:`review_pairs` writes. A decided pair the model did not propose is added.
    ``records`` gives each record's ``unique_id`` by ``source`` and ``source_record_id``.
    """
    out = pairs.copy()
    out["decision"] = None
    if decided is None or decided.empty:
        return out
    ids = records.set_index(KEY)["unique_id"]
    left = pd.MultiIndex.from_frame(decided[["source_l", "source_record_id_l"]])
    right = pd.MultiIndex.from_frame(decided[["source_r", "source_record_id_r"]])
    a, b = ids.reindex(left).to_numpy(), ids.reindex(right).to_numpy()
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    verdict = pd.DataFrame(
        {"unique_id_l": lo, "unique_id_r": hi, "decision": decided["decision"].to_numpy()}
    )
    verdict = verdict.drop_duplicates(["unique_id_l", "unique_id_r"], keep="last")
    out = out.drop(columns="decision").merge(
        verdict, on=["unique_id_l", "unique_id_r"], how="outer"
    )
    out["rule"] = out["rule"].fillna("decision")
    out.loc[out["decision"] == "match", "match_probability"] = 1.0
    out.loc[out["decision"] == "non-match", "match_probability"] = 0.0
    return out


def cluster(
    n_records: int,
    pairs: pd.DataFrame,
    threshold: float,
    identifiers: pd.DataFrame | None = None,
) -> np.ndarray:
    """Cluster number of each record, from the pairs scoring ``threshold`` or more.

    Without ``identifiers``: the connected components of those pairs. With them (``upn``
    and ``nhs_number`` of each record, in ``unique_id`` order): pairs are joined from the
    most probable down, and a pair that would put two different valid UPNs, or two
    different valid NHS numbers, into one child is not joined (each identifies one child;
    one that fails its check character is a typing error and does not count). This stops a
    chain of links, through a record with little to go on, from merging two children such
    as twins.
    """
    linked = pairs[pairs["match_probability"] >= threshold]
    if identifiers is None:
        graph = coo_matrix(
            (np.ones(len(linked)), (linked["unique_id_l"], linked["unique_id_r"])),
            shape=(n_records, n_records),
        )
        _, labels = connected_components(graph, directed=False)
        return labels
    held = {
        column: [v if isinstance(v, str) and valid(v) else None for v in identifiers[column]]
        for column, valid in (("upn", is_valid_upn), ("nhs_number", is_valid_nhs_number))
    }
    parent = np.arange(n_records)
    upn, nhs = list(held["upn"]), list(held["nhs_number"])

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    order = linked.sort_values("match_probability", ascending=False, kind="stable")
    for a, b in zip(order["unique_id_l"].to_numpy(), order["unique_id_r"].to_numpy(), strict=True):
        ra, rb = root(int(a)), root(int(b))
        if ra == rb:
            continue
        if (upn[ra] and upn[rb] and upn[ra] != upn[rb]) or (
            nhs[ra] and nhs[rb] and nhs[ra] != nhs[rb]
        ):
            continue
        parent[rb] = ra
        upn[ra], nhs[ra] = upn[ra] or upn[rb], nhs[ra] or nhs[rb]
    roots = np.array([root(i) for i in range(n_records)])
    return np.unique(roots, return_inverse=True)[1]


def record_confidence(n_records: int, pairs: pd.DataFrame, labels: np.ndarray) -> np.ndarray:
    """Each record's confidence of belonging to its cluster.

    In a cluster of several records: the highest match probability of a pair joining the
    record to another member. Alone: one minus the highest probability of a pair to any
    record (how sure it is that the record has no match).
    """
    same = labels[pairs["unique_id_l"]] == labels[pairs["unique_id_r"]]
    prob = pairs["match_probability"].to_numpy()
    inside = np.zeros(n_records)
    outside = np.zeros(n_records)
    for side in ("unique_id_l", "unique_id_r"):
        ids = pairs[side].to_numpy()
        np.maximum.at(inside, ids[same], prob[same])
        np.maximum.at(outside, ids[~same], prob[~same])
    sizes = np.bincount(labels)[labels]
    return np.where(sizes > 1, inside, 1.0 - outside)


def assign_ids(
    records: pd.DataFrame, labels: np.ndarray, key: bytes, previous: pd.DataFrame | None = None
) -> np.ndarray:
    """A pseudonymous ``child_id`` per cluster, kept from the previous crosswalk where it can be.

    A cluster takes the id that most of its records had last time (a tie: the smaller id);
    an id claimed by two clusters goes to the one holding more of its records. A cluster
    with no earlier id gets a keyed hash (HMAC-SHA256 with ``key``) of its first record.

    Parameters
    ----------
    records : pd.DataFrame
        ``source`` and ``source_record_id`` of each record, in ``unique_id`` order.
    labels : numpy.ndarray
        Cluster number of each record.
    key : bytes
        The partnership's linkage key (kept beside the crosswalk, never in the extracts).
    previous : pd.DataFrame, optional
        The last crosswalk (``source, source_record_id, child_id``).
    """
    frame = records[KEY].copy()
    frame["cluster"] = labels
    ids = pd.Series(index=np.unique(labels), dtype=object)
    if previous is not None and not previous.empty:
        before = frame.merge(previous[[*KEY, "child_id"]], on=KEY, how="inner")
        votes = before.groupby(["cluster", "child_id"]).size().rename("n").reset_index()
        votes = votes.sort_values(["n", "child_id"], ascending=[False, True])
        best = votes.drop_duplicates("cluster")
        best = best.sort_values(["n", "cluster"], ascending=[False, True])
        best = best.drop_duplicates("child_id")
        ids[best["cluster"].to_numpy()] = best["child_id"].to_numpy()
    taken = set(ids.dropna())
    first = frame.sort_values(KEY).drop_duplicates("cluster").set_index("cluster")
    for c in ids.index[ids.isna()]:
        row = first.loc[c]
        ids[c] = _new_id(f"{row['source']}/{row['source_record_id']}", key, taken)
    return ids.reindex(labels).to_numpy()


def _new_id(seed: str, key: bytes, taken: set) -> str:
    digest = hmac.new(key, seed.encode(), hashlib.sha256).hexdigest()
    for width in range(10, len(digest)):
        candidate = f"L{digest[:width]}"
        if candidate not in taken:
            taken.add(candidate)
            return candidate
    raise RuntimeError("no free child_id")  # 2**40 ids; unreachable in practice


def review_pairs(
    records: pd.DataFrame, pairs: pd.DataFrame, people: pd.DataFrame, low: float, high: float
) -> pd.DataFrame:
    """The uncertain pairs (``low`` <= probability < ``high``, undecided) for clerical review.

    Each row shows both records' identity fields side by side and an empty ``decision``
    column to fill with ``match`` or ``non-match``; the file is read back by
    ``lantern link --decisions``.
    """
    unsure = pairs[
        (pairs["match_probability"] >= low)
        & (pairs["match_probability"] < high)
        & pairs["decision"].isna()
    ].sort_values("match_probability", ascending=False)
    shown = ["forename", "surname", "dob", "sex", "postcode", "upn", "nhs_number"]
    ident = people[[*KEY, *shown]].copy()
    ident["dob"] = pd.to_datetime(ident["dob"]).dt.strftime("%Y-%m-%d")
    left = ident.iloc[unsure["unique_id_l"].to_numpy()].reset_index(drop=True)
    right = ident.iloc[unsure["unique_id_r"].to_numpy()].reset_index(drop=True)
    out = pd.concat([left.add_suffix("_l"), right.add_suffix("_r")], axis=1)
    out.insert(0, "match_probability", unsure["match_probability"].round(4).to_numpy())
    out["decision"] = ""
    return out
