"""How well records were linked: one result object, computed once, rendered by the report.

Without ground truth: how often each agency's records link to each other agency's, and how
many records stayed alone, by agency and group. With it (a synthetic partnership's
``ground_truth/identity.parquet``): pairwise precision, recall and F1, cluster purity, and
record-level missed and false matches overall and by ethnicity, sex, SEND and age band,
each rate with its Wilson interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binomtest

GROUPS = ("ethnicity", "sex", "send", "age_band")
AGE_BANDS = (
    (0, 9, "0-9"),
    (10, 13, "10-13"),
    (14, 15, "14-15"),
    (16, 17, "16-17"),
    (18, 200, "18+"),
)


@dataclass
class LinkageQuality:
    """Every figure the linkage report shows.

    Attributes
    ----------
    records : int
    children : int
    agency_links : pd.DataFrame
        Rows: an agency; columns: another; value: the share of the row agency's records
        whose child also has a record with the column agency.
    unlinked : pd.DataFrame
        ``agency, group, value, records, alone, rate, low, high``: records with no link
        to any other record, by agency and (linked) group.
    weights : pd.DataFrame
        ``low, high, pairs``: the match weights of the scored pairs, in bins.
    exact_pairs : int
        Pairs an exact rule links (a shared UPN or NHS number), whatever their weight.
    truth : dict or None
        Pairwise ``precision, recall, f1``, ``purity``, and record-level ``missed`` and
        ``false`` rates with intervals, when ground truth was given.
    by_group : pd.DataFrame or None
        ``group, value, records, precision, recall, f1, missed, missed_low, missed_high,
        false, false_low, false_high`` by true group, when ground truth was given, and
        ``missed_flag`` / ``false_flag``: the rate's interval lies wholly above the rest of
        the grouping's (see :func:`flagged`).
    """

    records: int
    children: int
    agency_links: pd.DataFrame
    unlinked: pd.DataFrame
    weights: pd.DataFrame
    exact_pairs: int = 0
    truth: dict | None = None
    by_group: pd.DataFrame | None = None

    def to_dict(self) -> dict:
        """Plain data for ``report.json``."""
        out = {
            "records": self.records,
            "children": self.children,
            "agency_links": self.agency_links.round(4).to_dict(),
            "unlinked": self.unlinked.to_dict(orient="records"),
            "match_weights": self.weights.to_dict(orient="records"),
            "exact_pairs": self.exact_pairs,
            "truth": self.truth,
        }
        if self.by_group is not None:
            out["by_group"] = self.by_group.to_dict(orient="records")
            out["flagged"] = flagged(self.by_group)
        return out


def wilson(successes: int, n: int) -> tuple[float, float]:
    """The 95% Wilson interval of a proportion (0, 1 when ``n`` is 0)."""
    if n == 0:
        return 0.0, 1.0
    interval = binomtest(int(successes), int(n)).proportion_ci(0.95, method="wilson")
    return float(interval.low), float(interval.high)


def record_groups(children: pd.DataFrame, send: pd.Series, when: pd.Timestamp) -> pd.DataFrame:
    """Each child's ethnicity, sex, SEND and age band on ``when``, indexed by ``child_id``.

    ``send`` is True for a child with special educational needs recorded, by ``child_id``.
    """
    frame = children.set_index("child_id")
    out = frame[["ethnicity", "sex"]].copy()
    age = (when - pd.to_datetime(frame["birth_month"])).dt.days // 365.25
    out["age_band"] = pd.cut(
        age, [b[0] - 0.5 for b in AGE_BANDS] + [1000], labels=[b[2] for b in AGE_BANDS]
    ).astype(str)
    out["send"] = np.where(send.reindex(out.index, fill_value=False), "SEND", "no SEND")
    return out


def send_recorded(school_census: pd.DataFrame | None) -> pd.Series:
    """True for each child whose school census ever records SEN support or an EHCP."""
    if school_census is None or school_census.empty:
        return pd.Series(dtype=bool)
    return school_census.groupby("child_id")["sen_status"].agg(lambda s: (s != "none").any())


def measure(
    crosswalk: pd.DataFrame,
    pairs: pd.DataFrame,
    groups: pd.DataFrame,
    truth: pd.DataFrame | None = None,
    true_groups: pd.DataFrame | None = None,
) -> LinkageQuality:
    """Measure a linkage.

    Parameters
    ----------
    crosswalk : pd.DataFrame
        ``source, source_record_id, child_id``.
    pairs : pd.DataFrame
        The scored pairs (``match_weight``).
    groups : pd.DataFrame
        The linked children's groups (:func:`record_groups`), by ``child_id``.
    truth : pd.DataFrame, optional
        ``source, source_record_id, person_id``: who each record really is.
    true_groups : pd.DataFrame, optional
        The true people's groups, by ``person_id``.
    """
    cw = crosswalk[["source", "source_record_id", "child_id"]].copy()
    sizes = cw.groupby("child_id")["source"].transform("size")
    cw["alone"] = sizes == 1
    agencies = sorted(cw["source"].unique())
    held = pd.crosstab(cw["child_id"], cw["source"]).reindex(columns=agencies) > 0
    links = pd.DataFrame(index=agencies, columns=agencies, dtype=float)
    for a in agencies:
        mine = held[held[a]]
        for b in agencies:
            links.loc[a, b] = float(mine[b].mean()) if len(mine) else np.nan
    unlinked = _unlinked(cw, groups)
    weights = _weights(pairs)
    exact = int((pairs["rule"] == "exact").sum()) if "rule" in pairs else 0
    quality = LinkageQuality(
        len(cw), int(cw["child_id"].nunique()), links, unlinked, weights, exact
    )
    if truth is not None:
        quality.truth, quality.by_group = _against_truth(cw, truth, true_groups)
    return quality


def _unlinked(cw: pd.DataFrame, groups: pd.DataFrame) -> pd.DataFrame:
    joined = cw.join(groups, on="child_id")
    rows = []
    for agency, of_agency in [("all", joined), *joined.groupby("source")]:
        for group in GROUPS:
            for value, part in of_agency.groupby(group):
                n, alone = len(part), int(part["alone"].sum())
                low, high = wilson(alone, n)
                rows.append(
                    {
                        "agency": agency,
                        "group": group,
                        "value": value,
                        "records": n,
                        "alone": alone,
                        "rate": alone / n,
                        "low": low,
                        "high": high,
                    }
                )
    return pd.DataFrame(rows)


def _weights(pairs: pd.DataFrame) -> pd.DataFrame:
    w = pairs["match_weight"].replace([np.inf, -np.inf], np.nan).dropna()
    if w.empty:
        return pd.DataFrame(columns=["low", "high", "pairs"])
    edges = np.arange(np.floor(w.min()), np.ceil(w.max()) + 2, 2.0)
    counts, edges = np.histogram(w, bins=edges)
    return pd.DataFrame({"low": edges[:-1], "high": edges[1:], "pairs": counts})


def _pairs(counts: pd.Series) -> int:
    n = counts.to_numpy(dtype=np.int64)
    return int((n * (n - 1) // 2).sum())


def _against_truth(cw: pd.DataFrame, truth: pd.DataFrame, true_groups: pd.DataFrame | None):
    frame = cw.merge(
        truth[["source", "source_record_id", "person_id"]],
        on=["source", "source_record_id"],
        how="left",
    )
    if frame["person_id"].isna().any():
        raise ValueError(
            f"{int(frame['person_id'].isna().sum())} linked records are not in the ground "
            "truth; give the identity.parquet written with these extracts"
        )
    overall = _scores(frame)
    by_group = None
    if true_groups is not None:
        frame = frame.join(true_groups, on="person_id")
        rows = []
        for group in GROUPS:
            if group not in frame:
                continue
            for value in sorted(frame[group].dropna().unique()):
                scores = _scores(frame, frame[group] == value)
                rest = _scores(frame, frame[group] != value)
                flags = {
                    f"{rate}_flag": scores[f"{rate}_low"] > rest[f"{rate}_high"]
                    for rate in ("missed", "false")
                }
                rows.append({"group": group, "value": value, **scores, **flags})
        by_group = pd.DataFrame(rows)
    return overall, by_group


def flagged(by_group: pd.DataFrame | None) -> list[str]:
    """The groups linked worse than the rest of their grouping: ``"ethnicity Black: missed"``.

    A group is flagged when its rate's 95% interval lies wholly above the interval of the
    other records of its grouping (missed matches, or false ones).
    """
    if by_group is None or by_group.empty:
        return []
    out = []
    for r in by_group.itertuples():
        for rate in ("missed", "false"):
            if getattr(r, f"{rate}_flag"):
                out.append(f"{r.group} {r.value}: {rate}")
    return out


def _scores(frame: pd.DataFrame, of: pd.Series | None = None) -> dict:
    """Pairwise and record-level scores of the records ``of`` (all when None)."""
    mask = np.ones(len(frame), dtype=bool) if of is None else of.to_numpy()
    mine = frame[mask]
    true_pairs = _pairs(mine.groupby("person_id").size())
    right_pairs = _pairs(mine.groupby(["child_id", "person_id"]).size())
    # Linked pairs with at least one of these records: all pairs of their clusters, less
    # the pairs made only of other records.
    in_cluster = frame[frame["child_id"].isin(mine["child_id"])]
    total = in_cluster.groupby("child_id").size()
    others = in_cluster[~mask[in_cluster.index]].groupby("child_id").size()
    linked_pairs = _pairs(total) - _pairs(others)
    precision = right_pairs / linked_pairs if linked_pairs else 1.0
    recall = right_pairs / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    # A record is falsely matched when its child is mostly another person's records, and
    # missed when it is not with most of its own person's records (the person's other
    # records hold it apart), as record-level missed and false matches are usually counted.
    counts = frame.groupby(["child_id", "person_id"]).size().rename("n").reset_index()
    owner = (
        counts.sort_values(["n", "person_id"], ascending=[False, True])
        .drop_duplicates("child_id")
        .set_index("child_id")["person_id"]
    )
    home = (
        counts.sort_values(["n", "child_id"], ascending=[False, True])
        .drop_duplicates("person_id")
        .set_index("person_id")["child_id"]
    )
    false = mine["child_id"].map(owner) != mine["person_id"]
    records_per_person = frame.groupby("person_id").size()
    has_match = mine["person_id"].map(records_per_person) > 1
    missed = (mine["child_id"] != mine["person_id"].map(home)) & has_match & ~false
    majority = frame.groupby(["child_id", "person_id"]).size().groupby("child_id").max()
    purity = float(
        majority.reindex(mine["child_id"].unique()).sum()
        / total.reindex(mine["child_id"].unique()).sum()
    )
    n, n_match = len(mine), int(has_match.sum())
    out = {
        "records": n,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "purity": purity,
        "records_with_a_match": n_match,
        "missed": float(missed.sum() / n_match) if n_match else 0.0,
        "false": float(false.sum() / n) if n else 0.0,
    }
    out["missed_low"], out["missed_high"] = wilson(int(missed.sum()), n_match)
    out["false_low"], out["false_high"] = wilson(int(false.sum()), n)
    return out


def person_to_child(crosswalk: pd.DataFrame, truth: pd.DataFrame) -> pd.Series:
    """Each true person's linked ``child_id``, where the two agree both ways.

    A person maps to the child holding most of their records, if most of that child's
    records are theirs; otherwise (a child split or merged by the linkage) to nothing.
    For carrying a synthetic partnership's ground truth over to the linked ids.
    """
    frame = crosswalk[["source", "source_record_id", "child_id"]].merge(
        truth[["source", "source_record_id", "person_id"]], on=["source", "source_record_id"]
    )
    counts = frame.groupby(["person_id", "child_id"]).size().rename("n").reset_index()
    best_child = counts.sort_values("n", ascending=False).drop_duplicates("person_id")
    best_person = counts.sort_values("n", ascending=False).drop_duplicates("child_id")
    agreed = best_child.merge(best_person, on=["person_id", "child_id"])
    return agreed.set_index("person_id")["child_id"]
