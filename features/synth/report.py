"""Target against achieved for every calibration figure (``lantern synth --report``).

Each figure is measured on the generated partnership's last full year: the children aged
10-17 on the last annual anchor, and their records in the 12 months after it. Each measure is
a small function named after its figure in ``targets.yaml``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from features.pointintime import DATE_COLUMN, cohort_on, index_records
from features.populations import within_age_auc
from features.synth.config import Figure
from features.synth.generate import Partnership


@dataclass(frozen=True)
class Row:
    """One line of the report."""

    name: str
    group: str
    figure: Figure
    achieved: float

    @property
    def ok(self) -> bool:
        """Whether the achieved figure is within the tolerance."""
        return bool(self.figure.low - 1e-12 <= self.achieved <= self.figure.high + 1e-12)


class Year:
    """The partnership's last full year, with the sets of children the measures count."""

    def __init__(self, partnership: Partnership):
        self.p = partnership
        self.tables = partnership.tables
        self.records = index_records(self.tables)
        self.start = pd.Timestamp(max(partnership.anchors))
        self.end = self.start + pd.DateOffset(months=12)
        self.cohort_positions = cohort_on(self.records, self.start)
        self.ids = self.records.children["child_id"].to_numpy()[self.cohort_positions]
        self.children = self.records.children.set_index("child_id").loc[self.ids]
        self.hidden = partnership.hidden.set_index("child_id").loc[self.ids]

    def rows(self, table: str, before_end: bool = False) -> pd.DataFrame:
        """A table's rows for the cohort: in the year, or (``before_end``) up to its end."""
        frame = self.tables[table]
        date = frame[DATE_COLUMN[table]]
        keep = frame["child_id"].isin(self.ids) & (date <= self.end)
        if not before_end:
            keep &= date > self.start
        return frame[keep]

    def share(self, ids: np.ndarray, among: np.ndarray | None = None) -> float:
        """The share of ``among`` (default: the cohort) whose id is in ``ids``."""
        among = self.ids if among is None else among
        return float(np.isin(among, ids).mean()) if len(among) else float("nan")

    @cached_property
    def age(self) -> pd.Series:
        """Age in whole years on the anchor date, as the feature table's ``age_years``."""
        birth = pd.DatetimeIndex(self.children["birth_month"])
        age = (self.start.year - birth.year) - (self.start.month < birth.month)
        return pd.Series(np.asarray(age), index=self.ids)

    @cached_property
    def academic_age(self) -> pd.Series:
        """Age on 31 August before the year starts."""
        birth = pd.DatetimeIndex(self.children["birth_month"])
        age = (self.start.year - birth.year) - (birth.month >= 9)
        return pd.Series(np.asarray(age), index=self.ids)

    @cached_property
    def census(self) -> pd.DataFrame:
        """Census rows on the year's first day."""
        c = self.tables["school_census"]
        return c[c["term_start"].eq(self.start) & c["child_id"].isin(self.ids)]

    @cached_property
    def police_sv(self) -> pd.DataFrame:
        """Serious violence records by the police in the year."""
        p = self.rows("police")
        return p[p["serious_violence"]]

    @cached_property
    def suspects(self) -> np.ndarray:
        """Children recorded as suspects in serious violence in the year."""
        return self.police_sv.loc[self.police_sv["role"].eq("suspect"), "child_id"].unique()

    @cached_property
    def victims(self) -> np.ndarray:
        """Children recorded as victims of serious violence, or with an ED assault, in the year."""
        h = self.rows("health")
        ed = h.loc[h["assault_related"], "child_id"]
        police = self.police_sv.loc[self.police_sv["role"].eq("victim"), "child_id"]
        return pd.concat([ed, police]).unique()

    @cached_property
    def involved(self) -> np.ndarray:
        """Children with the serious-violence outcome in the year."""
        return np.union1d(self.suspects, self.victims)

    def ever(self, table: str, **where) -> np.ndarray:
        """Children with a matching row dated up to the year's end."""
        rows = self.rows(table, before_end=True)
        for column, value in where.items():
            rows = rows[rows[column].isin(value if isinstance(value, list) else [value])]
        return rows["child_id"].unique()

    def ever_in_year(self, table: str, **where) -> np.ndarray:
        """Children with a matching row dated in the year."""
        rows = self.rows(table)
        for column, value in where.items():
            rows = rows[rows[column].isin(value if isinstance(value, list) else [value])]
        return rows["child_id"].unique()

    def open_during(self, kinds: list[str]) -> np.ndarray:
        """Children with a social care episode of ``kinds`` open at some point in the year."""
        sc = self.tables["social_care"]
        open_ = (sc["start"] <= self.end) & (sc["end"].isna() | (sc["end"] > self.start))
        return sc.loc[open_ & sc["kind"].isin(kinds), "child_id"].unique()

    def first_event(self, ids: np.ndarray, frame: pd.DataFrame, date_col: str) -> pd.Series:
        """Each child's first date in ``frame`` (for "before the event" measures)."""
        rows = frame[frame["child_id"].isin(ids)]
        return rows.groupby("child_id")[date_col].min()

    def any_before(self, first: pd.Series, table: str, **where) -> np.ndarray:
        """Children in ``first`` with a matching row dated before their first event."""
        rows = self.tables[table]
        date_col = DATE_COLUMN[table]
        for column, value in where.items():
            rows = rows[rows[column].isin(value if isinstance(value, list) else [value])]
        rows = rows[rows["child_id"].isin(first.index)]
        before = rows[date_col].to_numpy() < first.loc[rows["child_id"]].to_numpy()
        return rows.loc[before, "child_id"].unique()

    def anchor_truth(self) -> pd.DataFrame:
        """The ground truth at the year's anchor."""
        gt = self.p.ground_truth
        return gt[gt["anchor_date"].eq(self.start)]


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


# ---------------------------------------------------------------------------- population
def children_aged_10_17(y: Year) -> float:
    return float(len(y.ids))


def male(y: Year) -> float:
    return float(y.children["sex"].eq("M").mean())


def _ethnicity(group: str) -> Callable[[Year], float]:
    def measure(y: Year) -> float:
        return float(y.children["ethnicity"].eq(group).mean())

    return measure


def sen_support(y: Year) -> float:
    return float(y.census["sen_status"].eq("sen_support").mean())


def ehcp(y: Year) -> float:
    return float(y.census["sen_status"].eq("ehcp").mean())


def sen_boys_to_girls(y: Year) -> float:
    c = y.census.assign(sex=y.children.loc[y.census["child_id"], "sex"].to_numpy())
    rate = c["sen_status"].ne("none").groupby(c["sex"]).mean()
    return _ratio(rate.get("M", np.nan), rate.get("F", np.nan))


def fsm_eligible(y: Year) -> float:
    return float(y.census["fsm_eligible"].mean())


def persistently_absent(y: Year) -> float:
    c = y.rows("school_census")
    totals = c.groupby("child_id")[["sessions_missed", "sessions_possible"]].sum()
    totals = totals[totals["sessions_possible"] > 0]
    return float((1 - totals["sessions_missed"] / totals["sessions_possible"] < 0.9).mean())


def suspended_secondary(y: Year) -> float:
    secondary = y.census.loc[
        y.academic_age.loc[y.census["child_id"]].between(11, 15).to_numpy(), "child_id"
    ]
    return y.share(y.ever_in_year("exclusions", kind="suspension"), secondary.to_numpy())


def permanently_excluded(y: Year) -> float:
    return y.share(y.ever_in_year("exclusions", kind="permanent"), y.census["child_id"].to_numpy())


def child_in_need(y: Year) -> float:
    return y.share(y.open_during(["cin", "cp", "cla"]))


def protection_plan(y: Year) -> float:
    return y.share(y.open_during(["cp"]))


def looked_after(y: Year) -> float:
    return y.share(y.open_during(["cla"]))


def neet_or_not_known_16_17(y: Year) -> float:
    e = y.rows("education_status")
    return float(e["activity"].isin(["NEET", "not_known"]).groupby(e["month"]).mean().mean())


def serious_violence_recorded(y: Year) -> float:
    return y.share(y.involved)


def high_risk_neighbourhood(y: Year) -> float:
    return float(y.hidden["high_risk_area"].mean())


# ---------------------------------------------------------------------------- cohort
def male_among_suspects(y: Year) -> float:
    return float(y.children.loc[y.suspects, "sex"].eq("M").mean())


def female_among_victims(y: Year) -> float:
    return float(y.children.loc[y.victims, "sex"].eq("F").mean())


def social_care_history_suspects(y: Year) -> float:
    return y.share(y.ever("social_care"), y.suspects)


def looked_after_ever_suspects(y: Year) -> float:
    return y.share(y.ever("social_care", kind="cla"), y.suspects)


def protection_plan_ever_suspects(y: Year) -> float:
    return y.share(y.ever("social_care", kind="cp"), y.suspects)


def domestic_abuse_suspects(y: Year) -> float:
    return y.share(y.ever("social_care", category="domestic_abuse"), y.suspects)


def _mental_health_recorded(y: Year) -> np.ndarray:
    return np.union1d(
        y.ever("social_care", category="child_mental_health"),
        y.ever("health", setting="camhs_referral"),
    )


def mental_health_need_suspects(y: Year) -> float:
    return y.share(_mental_health_recorded(y), y.suspects)


def sen_suspects(y: Year) -> float:
    return y.share(y.ever("school_census", sen_status=["sen_support", "ehcp"]), y.suspects)


def permanently_excluded_ever_suspects(y: Year) -> float:
    return y.share(y.ever("exclusions", kind="permanent"), y.suspects)


def neet_victims_16_17(y: Year) -> float:
    older = y.academic_age.loc[y.victims].between(16, 17)
    victims = y.victims[older.to_numpy()]
    return y.share(y.ever_in_year("education_status", activity="NEET"), victims)


def no_prior_caution_suspects(y: Year) -> float:
    suspect_rows = y.police_sv[y.police_sv["role"].eq("suspect")]
    first = y.first_event(y.suspects, suspect_rows, "date")
    cautioned = y.any_before(first, "youth_justice", outcome=["caution", "court_order", "custody"])
    return 1.0 - y.share(cautioned, y.suspects)


def not_known_victims(y: Year) -> float:
    h = y.rows("health")
    events = pd.concat(
        [
            y.police_sv.loc[y.police_sv["role"].eq("victim"), ["child_id", "date"]],
            h.loc[h["assault_related"], ["child_id", "date"]],
        ]
    )
    first = y.first_event(y.victims, events, "date")
    known = set()
    for table in ("social_care", "police", "youth_justice"):
        known.update(y.any_before(first, table))
    return 1.0 - y.share(np.array(sorted(known)), y.victims)


def prior_violence_injury_victims(y: Year) -> float:
    h = y.rows("health")
    events = pd.concat(
        [
            y.police_sv.loc[y.police_sv["role"].eq("victim"), ["child_id", "date"]],
            h.loc[h["assault_related"], ["child_id", "date"]],
        ]
    )
    first = y.first_event(y.victims, events, "date")
    injured = y.any_before(first, "health", assault_related=True)
    return y.share(injured, y.victims)


def harm_outside_family_suspects(y: Year) -> float:
    return y.share(y.ever("social_care", category="extra_familial_harm"), y.suspects)


# ---------------------------------------------------------------------------- shape
def looked_after_caution_ratio(y: Year) -> float:
    cautioned = y.ever_in_year("youth_justice", outcome=["caution", "court_order", "custody"])
    cla = y.open_during(["cla"])
    in_care = np.isin(y.ids, cla)
    hit = np.isin(y.ids, cautioned)
    return _ratio(hit[in_care].mean(), hit[~in_care].mean())


def girls_among_knife_suspects(y: Year) -> float:
    p = y.police_sv
    ids = p.loc[p["role"].eq("suspect") & p["knife"], "child_id"].unique()
    return float(y.children.loc[ids, "sex"].eq("F").mean())


def knife_victim_neighbourhood_ratio(y: Year) -> float:
    """Over every year of records (one year holds too few knife victims to compare tenths)."""
    p = y.tables["police"]
    victims = p.loc[p["role"].eq("victim") & p["knife"], "child_id"].unique()
    vulnerability = y.hidden["area_deprivation"] + y.hidden["area_crime"]
    top = vulnerability >= vulnerability.quantile(0.9)
    bottom = vulnerability <= vulnerability.quantile(0.1)
    hit = np.isin(y.ids, victims)
    return _ratio(hit[top.to_numpy()].mean(), hit[bottom.to_numpy()].mean())


def domestic_abuse_and_plan_suspects(y: Year) -> float:
    both = np.intersect1d(
        y.ever("social_care", category="domestic_abuse"), y.ever("social_care", kind="cp")
    )
    return y.share(both, y.suspects)


def mental_health_need_to_service_ratio(y: Year) -> float:
    need = y.share(_mental_health_recorded(y), y.suspects)
    service = y.share(y.ever("health", setting="camhs_referral"), y.suspects)
    return _ratio(need, service)


def high_exploitation_risk_known(y: Year) -> float:
    risk = y.hidden["exploitation_end"]
    top = y.ids[(risk >= risk.quantile(0.95)).to_numpy()]
    known = np.union1d(y.open_during(["cin", "cp", "cla"]), y.ever_in_year("youth_justice"))
    return y.share(known, top)


# ---------------------------------------------------------------------------- difficulty
def _oracle_auc(y: Year, outcome: str) -> float:
    """The oracle's AUC measured as training's headline: within each year of age, pooled by
    positives (:func:`features.populations.within_age_auc`), so age alone earns nothing."""
    truth = y.anchor_truth().set_index("child_id").loc[y.ids]
    return within_age_auc(
        truth[f"y_recorded_{outcome}"].to_numpy(),
        truth[f"p_recorded_{outcome}"].to_numpy(),
        y.age.loc[y.ids].to_numpy(),
    )


def oracle_auc_serious_violence(y: Year) -> float:
    return _oracle_auc(y, "serious_violence")


def oracle_auc_exclusion_neet(y: Year) -> float:
    return _oracle_auc(y, "exclusion_neet")


def violence_without_prior_record(y: Year) -> float:
    police = y.tables["police"]
    yj = y.tables["youth_justice"]
    prior = np.union1d(
        police.loc[police["date"] <= y.start, "child_id"], yj.loc[yj["date"] <= y.start, "child_id"]
    )
    return 1.0 - y.share(prior, y.involved)


# ---------------------------------------------------------------------------- ethnicity
def black_white_violence_ratio(y: Year) -> float:
    hit = np.isin(y.ids, y.involved)
    eth = y.children["ethnicity"].to_numpy()
    return _ratio(hit[eth == "Black"].mean(), hit[eth == "White"].mean())


def disability_recorded_suspects_with_sen(y: Year) -> float:
    sen = np.intersect1d(y.suspects, y.ever("school_census", sen_status=["sen_support", "ehcp"]))
    return y.share(y.ever("social_care", category="child_disability"), sen)


MEASURES: dict[str, Callable[[Year], float]] = {
    name: func
    for name, func in globals().items()
    if callable(func)
    and not name.startswith("_")
    and func.__module__ == __name__
    and name not in {"Row", "Year", "calibration_report", "render"}
}
for _group in ("white", "asian", "black", "mixed", "other", "unknown"):
    MEASURES[f"ethnicity_{_group}"] = _ethnicity(_group.capitalize())


def calibration_report(partnership: Partnership) -> list[Row]:
    """Measure every figure of the partnership's targets on its last full year."""
    targets = partnership.config.targets()
    year = Year(partnership)
    rows = []
    for group, figures in targets.model_dump().items():
        for name, figure in figures.items():
            if name not in MEASURES:
                raise KeyError(
                    f"targets.yaml names {name!r}, which no measure in report.py computes"
                )
            fig = Figure.model_validate(figure)
            if name == "children_aged_10_17":
                fig = fig.model_copy(
                    update=dict.fromkeys(("target", "low", "high"), partnership.config.children)
                )
            rows.append(Row(name, group, fig, MEASURES[name](year)))
    return rows
