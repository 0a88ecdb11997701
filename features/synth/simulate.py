"""Month-by-month simulation of a partnership's records, with outcomes drawn at anchors.

Each month step ``k`` covers the days ``(D_k, D_k+1]``. Latent traits drive the records that
are not outcomes (attendance, suspensions, social care, searches, missing episodes, ...). At
each annual anchor (1 September) the generator computes every child's features with the
pipeline's own feature code, draws the year's outcomes from them (see
:mod:`features.synth.outcome_model`) and schedules their records within the year.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.build import build_snapshot
from features.contract.vocabulary import EXCLUSION_REASON, SEN_STATUS, SOCIAL_CARE_CATEGORY
from features.pointintime import index_records
from features.registry import Registry
from features.synth import outcome_model as om
from features.synth.config import Mechanics, SynthConfig, Targets
from features.synth.population import Population

KINDS = ("early_help", "cin", "cp", "cla")
NON_SV_OFFENCES = np.array(
    ["violence_without_injury", "theft", "criminal_damage", "drug_offences", "public_order"]
)
SV_OFFENCES = np.array(
    ["violence_with_injury", "robbery", "possession_of_weapons", "sexual_offences"]
)
SUSPENSION_REASONS = dict(
    zip(EXCLUSION_REASON, [0.38, 0.2, 0.07, 0.15, 0.05, 0.03, 0.02, 0.03, 0.07], strict=True)
)
"""Share of suspensions by reason, in the vocabulary's order (A: roughly DfE's national mix)."""
SCHOOL_MONTHS = np.arange(11)  # September to July
CENSUS_MONTHS = {9: "summer", 1: "autumn", 4: "spring"}  # census month -> term it reports


@dataclass
class Buffers:
    """Records emitted so far, as lists of column chunks per table."""

    chunks: dict[str, list[dict[str, np.ndarray]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def emit(self, table: str, **columns) -> None:
        """Append rows (equal-length arrays; scalars are broadcast)."""
        n = max(len(v) for v in columns.values() if isinstance(v, np.ndarray))
        if n == 0:
            return
        self.chunks[table].append(
            {k: v if isinstance(v, np.ndarray) else np.full(n, v) for k, v in columns.items()}
        )

    def frame(self, table: str, columns: list[str]) -> pd.DataFrame:
        """The table's rows so far."""
        parts = self.chunks.get(table, [])
        if not parts:
            return pd.DataFrame({c: [] for c in columns})
        return pd.DataFrame({c: np.concatenate([p[c] for p in parts]) for c in columns})


class Simulation:
    """Runs the partnership forward month by month; see the module docstring."""

    def __init__(
        self,
        pop: Population,
        config: SynthConfig,
        targets: Targets,
        mech: Mechanics,
        registry: Registry,
        rng: np.random.Generator,
    ):
        self.pop, self.config, self.targets, self.mech = pop, config, targets, mech
        self.registry, self.rng = registry, rng
        self.end = np.datetime64(config.end, "D")
        n_years = config.years + config.history_years
        self.start = np.datetime64(np.datetime64(config.end, "M") - 12 * n_years, "D")
        self.n_steps = 12 * n_years
        self.bounds = np.array(
            [
                np.datetime64(np.datetime64(self.start, "M") + k, "D")
                for k in range(self.n_steps + 1)
            ]
        )
        self.out = Buffers()
        self.children = pop.children_table()
        self.relationships = pop.relationships_table()
        n = pop.n
        birth = pop.birth
        self.birth_year = birth.astype("datetime64[Y]").astype(int) + 1970
        self.birth_month = birth.astype(int) % 12 + 1
        m = mech.latent
        self.child_ar = rng.normal(0, m["exploitation_child_sd"], n)
        self.peer_ar = rng.normal(0, m["exploitation_peer_sd"], pop.peer_group.max() + 1)
        self.shock = np.zeros(n)
        self.absence_child = rng.normal(0, mech.school["absence_child_sd"], n)
        self.open_episode = np.full((n, 4), -1, dtype=np.int64)
        self.episode_end: list = []
        self.episode_start: list = []
        self.episode_rows: dict[str, list] = defaultdict(list)
        self.ever = np.zeros((n, 4), dtype=bool)
        self.prior_suspect = np.zeros(n, dtype=bool)
        self.excluded_ever = np.zeros(n, dtype=bool)
        self.prior_youth_justice = np.zeros(n, dtype=bool)
        self.school = pop.area.copy()  # primary school: the neighbourhood's
        self.on_roll = np.ones(n, dtype=bool)
        self.home_educated = np.zeros(n, dtype=bool)
        self.ap_until = np.full(n, -1)
        self.term_missed = np.zeros(n)
        self.term_unauthorised = np.zeros(n)
        self.term_possible = np.zeros(n)
        self.scheduled: dict[int, list[tuple[str, np.ndarray, dict]]] = defaultdict(list)
        self.neet_rows = np.zeros((n, 12), dtype=bool)
        self.truth: list[pd.DataFrame] = []

    # ------------------------------------------------------------------ time and ages
    def academic_age(self, step: int) -> np.ndarray:
        """Age on 31 August of the school year that step ``step`` falls in."""
        date = self.bounds[step].astype("datetime64[M]")
        sep_year = date.astype("datetime64[Y]").astype(int) + 1970
        month = date.astype(int) % 12 + 1
        if month < 9:
            sep_year -= 1
        return sep_year - self.birth_year - (self.birth_month >= 9)

    def exact_age(self, step: int) -> np.ndarray:
        """Age in years (fractional) at the start of step ``step``."""
        months = self.bounds[step].astype("datetime64[M]").astype(int) - self.pop.birth.astype(int)
        return months / 12.0

    @staticmethod
    def monthly(per_year: float, log_relative: np.ndarray, among: np.ndarray) -> np.ndarray:
        """Monthly event probabilities averaging ``per_year / 12`` over ``among``.

        ``log_relative`` sets each child's rate relative to the others, so the mechanics'
        ``*_per_year`` figures read as the yearly rate of an average child.
        """
        relative = np.exp(log_relative - log_relative[among].max(initial=0.0))
        mean = relative[among].mean() if among.any() else 1.0
        return np.clip(per_year / 12 * relative / mean, 0.0, 0.95)

    def dates_in(self, step: int, n: int) -> np.ndarray:
        """``n`` random days within step ``step``'s interval ``(D_k, D_k+1]``."""
        days = (self.bounds[step + 1] - self.bounds[step]).astype(int)
        return self.bounds[step] + self.rng.integers(1, days + 1, n).astype("timedelta64[D]")

    def exploitation(self, step: int) -> np.ndarray:
        """Each child's exploitation risk this month: it rises and falls."""
        age = self.exact_age(step)
        age_term = np.clip((age - 10.0) / 5.0, 0.0, 1.2) - 0.6
        return (
            self.pop.exploitation_base
            + self.peer_ar[self.pop.peer_group]
            + self.child_ar
            + self.shock
            + age_term
        )

    # ------------------------------------------------------------------ set-up
    def _school_for(self, academic_age: np.ndarray) -> np.ndarray:
        secondary = 1000 + self.pop.area // 6
        school = np.where(academic_age >= 11, secondary, self.pop.area)
        moved = self.school >= 5000
        return np.where(moved & (academic_age >= 11), self.school, school)

    def exclusion_history(self) -> None:
        """Permanent exclusions before the records' first month, from secondary school on."""
        m = self.mech.school
        pop, rng = self.pop, self.rng
        years = np.clip(self.academic_age(0) - 10, 0, None).astype(float)
        everyone = np.ones(pop.n, dtype=bool)
        relative = (
            m["suspension_exploitation"] * pop.exploitation_base
            + m["suspension_adversity"] * pop.adversity
            + m["suspension_sen"] * (pop.sen_status > 0)
        )
        monthly = self.monthly(m["permanent_exclusion_history_per_year"], relative, everyone)
        idx = np.flatnonzero(rng.random(pop.n) < 1 - np.exp(-monthly * 12 * years))
        days_back = (rng.random(len(idx)) * years[idx] * 365).astype(int) + 1
        self.out.emit(
            "exclusions",
            child=idx,
            date=self.start - days_back.astype("timedelta64[D]"),
            kind="permanent",
            days=np.nan,
            reason="persistent_disruptive_behaviour",
        )
        self.excluded_ever[idx] = True

    def social_care_history(self) -> None:
        """Episodes before the records' first month: a child's social care history."""
        m = self.mech.social_care
        pop, rng = self.pop, self.rng
        years_lived = np.clip(self.exact_age(0) - 1.0, 0.0, None)
        everyone = np.ones(pop.n, dtype=bool)
        for kind_index, kind in enumerate(KINDS):
            monthly = self._referral_hazard(
                kind, pop.adversity, pop.exploitation_base * 0.5, everyone
            )
            p_ever = 1 - np.exp(-monthly * 12 * years_lived * m["history_scale"][kind])
            ever = rng.random(pop.n) < p_ever
            idx = np.flatnonzero(ever)
            if not len(idx):
                continue
            birth_days = pop.birth[idx].astype("datetime64[D]")
            span = (self.start - birth_days).astype(int)
            start = birth_days + (rng.random(len(idx)) * (span - 31) + 365).astype(int).astype(
                "timedelta64[D]"
            )
            start = np.minimum(start, self.start - np.timedelta64(1, "D"))
            months = rng.exponential(m["mean_months"][kind], len(idx))
            end = (
                start
                + (months * 30.4).astype(int).astype("timedelta64[D]")
                + np.timedelta64(14, "D")
            )
            still_open = end >= self.start
            self.ever[idx, kind_index] = True
            ids = self._record_episodes(idx, kind, start)
            for i, ep in enumerate(ids):
                if still_open[i]:
                    self.open_episode[idx[i], kind_index] = ep
                else:
                    self.episode_end[ep] = end[i]

    def _referral_hazard(self, kind: str, adversity, exploitation, among) -> np.ndarray:
        """Monthly probability of a new episode of ``kind`` (before escalation effects)."""
        m = self.mech.social_care
        log_relative = m[f"{kind}_adversity"] * adversity + m[f"{kind}_exploitation"] * exploitation
        return self.monthly(m[f"{kind}_per_year"], log_relative, among)

    def _close(self, episodes: np.ndarray, dates: np.ndarray) -> None:
        """End episodes on ``dates`` (never before the day they started)."""
        for ep, date in zip(episodes, dates, strict=True):
            self.episode_end[ep] = max(date, self.episode_start[ep])

    def _record_episodes(self, idx: np.ndarray, kind: str, start: np.ndarray) -> np.ndarray:
        """Add episodes of ``kind`` starting on ``start``; returns their ids."""
        categories = self._categories(idx, kind)
        first = len(self.episode_end)
        ids = np.arange(first, first + len(idx))
        self.episode_end.extend([np.datetime64("NaT")] * len(idx))
        self.episode_start.extend(start.astype("datetime64[D]"))
        self.episode_rows["child"].append(idx)
        self.episode_rows["kind"].append(np.full(len(idx), kind))
        self.episode_rows["start"].append(start.astype("datetime64[D]"))
        self.episode_rows["category"].append(categories)
        return ids

    def _categories(self, idx: np.ndarray, kind: str) -> np.ndarray:
        """The need recorded at each new episode's assessment."""
        m = self.mech.social_care
        pop = self.pop
        a = pop.adversity[idx]
        e = pop.exploitation_base[idx] + self.shock[idx]
        mh = pop.mental_health[idx]
        sen = pop.sen_status[idx]
        cats = list(SOCIAL_CARE_CATEGORY)
        base = {
            "abuse_or_neglect": 0.9 if kind in ("cp", "cla") else 0.0,
            "domestic_abuse": -0.6,
            "family_dysfunction": 0.0,
            "family_in_acute_stress": -0.3,
            "parental_illness_or_disability": -1.2,
            "child_disability": -9.0,
            "child_mental_health": -0.3,
            "extra_familial_harm": -1.8,
            "socially_unacceptable_behaviour": -1.3,
            "low_income": -1.5 if kind == "early_help" else -2.5,
            "absent_parenting": -1.8,
        }
        logits = np.array([np.full(len(idx), base[c]) for c in cats]).T
        logits[:, cats.index("domestic_abuse")] += m["domestic_abuse_adversity"] * a
        if kind == "cp":
            logits[:, cats.index("domestic_abuse")] += 0.8
        logits[:, cats.index("abuse_or_neglect")] += 0.5 * a
        logits[:, cats.index("extra_familial_harm")] += m["extra_familial_harm_exploitation"] * e
        logits[:, cats.index("socially_unacceptable_behaviour")] += 0.6 * e
        logits[:, cats.index("child_mental_health")] += m["mental_health_category"] * mh
        disability = m["disability_recorded_given_ehcp"]
        logits[:, cats.index("child_disability")] = np.select(
            [sen == 2, sen == 1], [np.log(disability * 8), np.log(disability * 2)], -9.0
        )
        gumbel = self.rng.gumbel(size=logits.shape)
        return np.array(cats)[np.argmax(logits + gumbel, axis=1)]

    # ------------------------------------------------------------------ records each month
    def step(self, k: int) -> None:
        """Simulate month ``k``: every record dated in ``(D_k, D_k+1]``."""
        self._update_latent()
        e = self.exploitation(k)
        age = self.exact_age(k)
        acad = self.academic_age(k)
        alive = (age >= 0) & (acad <= 17)
        month_of_year = k % 12  # 0 = September
        school_age = alive & (acad >= 8) & (acad <= 15)
        if month_of_year in SCHOOL_MONTHS:
            self._attendance(k, school_age, e)
            self._suspensions(k, school_age & (acad >= 10), e, age)
        self._home_education(k, school_age, e)
        self._social_care(k, alive, e)
        self._police(k, alive & (age >= 9.5), e, age)
        self._health(k, alive, e)
        self._scheduled(k)
        self._education_status(k, e)
        census = self.bounds[k + 1].astype("datetime64[M]").astype(int) % 12 + 1
        if census in CENSUS_MONTHS:
            self.census(k + 1)

    def _update_latent(self) -> None:
        m = self.mech.latent
        rho = m["monthly_persistence"]
        rng = self.rng
        self.child_ar = rho * self.child_ar + np.sqrt(1 - rho**2) * rng.normal(
            0, m["exploitation_child_sd"], len(self.child_ar)
        )
        self.peer_ar = rho * self.peer_ar + np.sqrt(1 - rho**2) * rng.normal(
            0, m["exploitation_peer_sd"], len(self.peer_ar)
        )
        self.shock *= 0.9

    def _attendance(self, k: int, pupils: np.ndarray, e: np.ndarray) -> None:
        m = self.mech.school
        pop = self.pop
        acad = self.academic_age(k)
        in_ap = self.ap_until >= k
        logit = (
            m["absence_logit_mean"]
            + self.absence_child
            + self.rng.normal(0, m["absence_term_sd"], pop.n)
            + m["absence_adversity"] * pop.adversity
            + m["absence_exploitation"] * np.maximum(e, -1.0)
            + m["absence_sen"] * (pop.sen_status > 0)
            + m["absence_age"] * np.clip(acad - 11, 0, None)
            + 0.8 * in_ap
        )
        attending = pupils & self.on_roll
        sessions = int(m["sessions_per_month"])
        missed = self.rng.binomial(sessions, 1 / (1 + np.exp(-logit))) * attending
        unauth_p = 1 / (1 + np.exp(-(m["unauthorised_logit"] + m["unauthorised_exploitation"] * e)))
        self.term_possible += sessions * attending
        self.term_missed += missed
        self.term_unauthorised += self.rng.binomial(missed, unauth_p)

    def _suspensions(self, k, pupils, e, age) -> None:
        m = self.mech.school
        pop = self.pop
        among = pupils & self.on_roll
        rate = self.monthly(
            m["suspensions_per_year"],
            m["suspension_exploitation"] * e
            + m["suspension_adversity"] * pop.adversity
            + m["suspension_sen"] * (pop.sen_status > 0)
            - 0.08 * (age - m["suspension_age_peak"]) ** 2,
            among,
        )
        rate = rate * np.where(pop.sen_status > 0, self.config.exclusion_bias_send, 1.0)
        hit = np.flatnonzero(pupils & self.on_roll & (self.rng.random(pop.n) < rate))
        if len(hit):
            reasons = self.rng.choice(
                list(SUSPENSION_REASONS), len(hit), p=list(SUSPENSION_REASONS.values())
            )
            days = self.rng.choice([0.5, 1, 1, 2, 2, 3, 3, 5], len(hit)).astype(float)
            self.out.emit(
                "exclusions",
                child=hit,
                date=self.dates_in(k, len(hit)),
                kind="suspension",
                days=days,
                reason=reasons,
            )
            self.shock[hit] += 0.1

    def _home_education(self, k, pupils, e) -> None:
        if k % 12 != 0:
            return
        m = self.mech.school
        p = m["home_education_per_year"] * np.exp(0.5 * self.pop.adversity + 0.4 * e)
        new = pupils & self.on_roll & (self.rng.random(self.pop.n) < p)
        self.home_educated |= new
        self.on_roll &= ~new
        p_move = m["managed_move_per_year"] * np.exp(0.6 * e)
        moved = pupils & self.on_roll & (self.rng.random(self.pop.n) < p_move)
        self.school = np.where(moved, 5000 + self.rng.integers(0, 400, self.pop.n), self.school)

    def _social_care(self, k: int, alive: np.ndarray, e: np.ndarray) -> None:
        m = self.mech.social_care
        rng = self.rng
        a = self.pop.adversity + 0.15 * self.shock
        n = self.pop.n
        # Episodes close.
        for kind_index, kind in enumerate(KINDS):
            ep = self.open_episode[:, kind_index]
            open_ = ep >= 0
            closes = open_ & ((rng.random(n) < 1 / m["mean_months"][kind]) | ~alive)
            if closes.any():
                self._close(ep[closes], self.dates_in(k, int(closes.sum())))
                self.open_episode[closes, kind_index] = -1
        statutory_open = (self.open_episode[:, 1:] >= 0).any(axis=1)
        for kind_index, kind in enumerate(KINDS):
            if kind_index == 0:
                can = alive & ~statutory_open & (self.open_episode[:, 0] < 0)
            else:
                can = alive & (self.open_episode[:, kind_index:] < 0).all(axis=1)
            hazard = self._referral_hazard(kind, a, e, alive)
            if kind == "cp":
                hazard = hazard * np.where(self.open_episode[:, 1] >= 0, 6.0, 1.0)
            if kind == "cla":
                hazard = hazard * np.where(self.open_episode[:, 2] >= 0, 4.0, 1.0)
                hazard = hazard * np.where(self.exact_age(k) > 16, 0.3, 1.0)
            starts = np.flatnonzero(can & (rng.random(n) < hazard))
            if not len(starts):
                continue
            dates = self.dates_in(k, len(starts))
            # A new statutory episode replaces the lighter ones it escalates from.
            for lighter in range(kind_index):
                ep = self.open_episode[starts, lighter]
                self._close(ep[ep >= 0], dates[ep >= 0])
                self.open_episode[starts, lighter] = -1
            self.open_episode[starts, kind_index] = self._record_episodes(starts, kind, dates)
            self.ever[starts, kind_index] = True

    def _police(self, k, alive, e, age) -> None:
        m = self.mech.police
        pop, rng = self.pop, self.rng
        n = pop.n
        crime = pop.area_crime[pop.area]
        black = pop.ethnicity == "Black"
        bias = np.where(black, self.config.police_recording_bias, 1.0)
        looked_after = self.open_episode[:, 3] >= 0
        ramp = np.clip((age - 9.5) / 5.0, 0.05, 1.3)
        among = alive
        monthly = {
            "missing_person": self.monthly(
                m["missing_per_year"],
                m["missing_exploitation"] * e
                + m["missing_adversity"] * pop.adversity
                + m["missing_looked_after"] * looked_after,
                among,
            ),
            "stop_search": self.monthly(
                m["stop_search_per_year"],
                np.log(ramp)
                + m["stop_search_exploitation"] * e
                + m["stop_search_male"] * pop.male
                + m["stop_search_area_crime"] * crime,
                among,
            )
            * bias,
            "victim": self.monthly(
                m["victim_per_year"],
                m["victim_exploitation"] * e + m["victim_area_crime"] * crime,
                among,
            ),
            "suspect": self.monthly(
                m["suspect_per_year"],
                np.log(ramp)
                + m["suspect_exploitation"] * e
                + m["suspect_male"] * pop.male
                + m["suspect_looked_after"] * looked_after,
                among,
            )
            * bias,
        }
        for role, prob in monthly.items():
            hit = np.flatnonzero(alive & (rng.random(n) < prob))
            if not len(hit):
                continue
            if role in ("victim", "suspect"):
                offence = rng.choice(NON_SV_OFFENCES, len(hit))
            elif role == "stop_search":
                offence = rng.choice(
                    ["none", "drug_offences", "possession_of_weapons"],
                    len(hit),
                    p=[0.75, 0.2, 0.05],
                )
            else:
                offence = np.full(len(hit), "none")
            self.out.emit(
                "police",
                child=hit,
                date=self.dates_in(k, len(hit)),
                role=role,
                offence_group=offence,
                serious_violence=False,
                knife=False,
            )
            if role == "suspect":
                self._youth_justice_after(k, hit, serious=False)
                self.prior_suspect[hit] = True

    def _youth_justice_after(self, k: int, suspects: np.ndarray, serious: bool) -> None:
        m = self.mech.police
        rng = self.rng
        prior = self.prior_youth_justice[suspects]
        logit = np.log(m["youth_justice_given_suspect"] / (1 - m["youth_justice_given_suspect"]))
        p = 1 / (1 + np.exp(-(logit + m["youth_justice_prior_record"] * prior + 1.0 * serious)))
        dealt = rng.random(len(suspects)) < p
        idx, prior = suspects[dealt], prior[dealt]
        if not len(idx):
            return
        caution = m["first_outcome_caution_share"]
        first = rng.choice(["community_resolution", "caution"], len(idx), p=[1 - caution, caution])
        custody_share = 0.25 if serious else 0.08
        repeat = rng.choice(
            ["caution", "court_order", "custody"],
            len(idx),
            p=[0.3, 0.7 - custody_share, custody_share],
        )
        outcome = np.where(prior, repeat, first)
        delay = rng.integers(1, 5, len(idx))
        for d in np.unique(delay):
            sel = delay == d
            self.scheduled[k + d].append(("youth_justice", idx[sel], {"outcome": outcome[sel]}))
        self.prior_youth_justice[idx] = True

    def _health(self, k, alive, e) -> None:
        m = self.mech.health
        pop, rng = self.pop, self.rng
        n = pop.n
        ed = self.monthly(m["ed_per_year"], m["ed_adversity"] * pop.adversity + 0.2 * e, alive)
        hit = np.flatnonzero(alive & (rng.random(n) < ed))
        self.out.emit(
            "health",
            child=hit,
            date=self.dates_in(k, len(hit)),
            setting="emergency_department",
            assault_related=False,
        )
        camhs = self.monthly(
            m["camhs_per_year"], m["camhs_mental_health"] * pop.mental_health, alive
        )
        hit = np.flatnonzero(alive & (rng.random(n) < camhs))
        self.out.emit(
            "health",
            child=hit,
            date=self.dates_in(k, len(hit)),
            setting="camhs_referral",
            assault_related=False,
        )

    def _scheduled(self, k: int) -> None:
        for table, idx, columns in self.scheduled.pop(k, []):
            if table == "youth_justice":
                self.out.emit(
                    "youth_justice", child=idx, date=self.dates_in(k, len(idx)), **columns
                )
            elif table == "serious_violence":
                self._serious_violence_records(k, idx, **columns)
            elif table == "permanent_exclusion":
                self.out.emit(
                    "exclusions",
                    child=idx,
                    date=self.dates_in(k, len(idx)),
                    kind="permanent",
                    days=np.nan,
                    reason=self.rng.choice(
                        [
                            "persistent_disruptive_behaviour",
                            "physical_assault_pupil",
                            "physical_assault_adult",
                            "use_or_threat_of_weapon",
                            "drug_or_alcohol",
                        ],
                        len(idx),
                        p=[0.45, 0.2, 0.1, 0.1, 0.15],
                    ),
                )
                self.excluded_ever[idx] = True
                year_end = (k // 12 + 2) * 12 - 1
                self.ap_until[idx] = year_end
                self.school[idx] = 9000 + self.pop.area[idx] // 20
                self.shock[idx] += 0.3

    def _serious_violence_records(
        self, k: int, idx: np.ndarray, police_only: np.ndarray, ed_only: np.ndarray
    ) -> None:
        """The records of involvement in serious violence: police, and ED for injuries.

        ``police_only`` are records of what did not happen (over-recording: no injury to
        see); ``ed_only`` are injuries the police did not record (under-recording).
        """
        r = self.mech.role
        pop, rng = self.pop, self.rng
        n = len(idx)
        # Histories weigh less for girls: with the same records, girls are more often harmed
        # than accused (a third of victims, a tenth of suspects in the seeds).
        history = (
            r["suspect_prior_suspect"] * self.prior_suspect[idx]
            + r["suspect_social_care"] * self.ever[idx, 1:].any(axis=1)
            + r["suspect_looked_after"] * self.ever[idx, 3]
            + r["suspect_protection_plan"] * self.ever[idx, 2]
            + r["suspect_excluded"] * self.excluded_ever[idx]
        )
        male = pop.male[idx]
        logit = (
            r["suspect_logit"]
            + r["suspect_male"] * male
            + history * np.where(male, 1.0, r["suspect_history_female_factor"])
        )
        suspect = rng.random(n) < 1 / (1 + np.exp(-logit))
        victim = ~suspect | (rng.random(n) < r["both_share"])
        ed = (victim & ~police_only & (rng.random(n) < r["ed_given_victim"])) | ed_only
        # A victim is recorded by the police, the ED or both; never by neither.
        police_victim = victim & ((rng.random(n) < 0.8) | police_only | ~ed) & ~ed_only
        suspect &= ~ed_only
        dates = self.dates_in(k, n)
        knife_p = np.where(pop.male[idx], 1.0, r["knife_female_factor"]) * r["knife_given_suspect"]
        knife = rng.random(n) < knife_p
        offence = rng.choice(SV_OFFENCES, n, p=[0.5, 0.25, 0.15, 0.1])
        offence = np.where(knife & (offence == "sexual_offences"), "violence_with_injury", offence)
        for role, mask in (("victim", police_victim), ("suspect", suspect)):
            self.out.emit(
                "police",
                child=idx[mask],
                date=dates[mask],
                role=role,
                offence_group=offence[mask],
                serious_violence=True,
                knife=knife[mask],
            )
        self.out.emit(
            "health",
            child=idx[ed],
            date=dates[ed],
            setting="emergency_department",
            assault_related=True,
        )
        if suspect.any():
            self._youth_justice_after(k, idx[suspect], serious=True)
            self.prior_suspect[idx[suspect]] = True
        self.shock[idx] += self.mech.latent["shock_after_violence"]

    def _education_status(self, k: int, e: np.ndarray) -> None:
        """CCIS rows dated at the end of step ``k`` for the school year's 16-17 year olds."""
        acad = self.academic_age(k)
        tracked = np.flatnonzero((acad >= 16) & (acad <= 17))
        if not len(tracked):
            return
        m = self.mech.education
        e = e[tracked]
        neet = self.neet_rows[tracked, k % 12]
        p_nk = m["not_known_per_month"] * np.exp(m["not_known_exploitation"] * e)
        not_known = ~neet & (self.rng.random(len(tracked)) < p_nk)
        activity = np.where(neet, "NEET", np.where(not_known, "not_known", "EET"))
        self.out.emit(
            "education_status",
            child=tracked,
            month=np.full(len(tracked), self.bounds[k + 1]),
            activity=activity,
        )

    def census(self, step: int) -> None:
        """The school census on ``D_step``: status that day and the term just ended."""
        acad = self.academic_age(step)
        pupils = np.flatnonzero((acad >= 8) & (acad <= 15))
        self.school = self._school_for(acad)
        in_ap = self.ap_until >= step
        sen = np.array(SEN_STATUS)[self.pop.sen_status]
        self.out.emit(
            "school_census",
            child=pupils,
            term_start=np.full(len(pupils), self.bounds[step]),
            school_id=np.char.add("S", np.char.zfill(self.school[pupils].astype(str), 4)),
            fsm_eligible=self.pop.fsm[pupils],
            sen_status=sen[pupils],
            sessions_possible=self.term_possible[pupils].astype(np.int64),
            sessions_missed=self.term_missed[pupils].astype(np.int64),
            sessions_unauthorised=self.term_unauthorised[pupils].astype(np.int64),
            on_roll=self.on_roll[pupils],
            alternative_provision=in_ap[pupils],
            elective_home_education=self.home_educated[pupils],
        )
        self.term_missed[:] = 0
        self.term_unauthorised[:] = 0
        self.term_possible[:] = 0

    def initial_census(self) -> None:
        """The census on the first day of the records, with the summer term before it."""
        acad = self.academic_age(0)
        pupils = (acad >= 8) & (acad <= 15)
        e = self.exploitation(0)
        for _ in range(4):
            self._attendance(0, pupils, e)
        self.census(0)

    # ------------------------------------------------------------------ tables
    def tables(self, upto_step: int | None = None) -> dict[str, pd.DataFrame]:
        """The records emitted so far, as contract tables."""
        ids = self.pop.child_id
        out: dict[str, pd.DataFrame] = {"children": self.children}
        specs = {
            "school_census": [
                "child",
                "term_start",
                "school_id",
                "fsm_eligible",
                "sen_status",
                "sessions_possible",
                "sessions_missed",
                "sessions_unauthorised",
                "on_roll",
                "alternative_provision",
                "elective_home_education",
            ],
            "exclusions": ["child", "date", "kind", "days", "reason"],
            "police": ["child", "date", "role", "offence_group", "serious_violence", "knife"],
            "health": ["child", "date", "setting", "assault_related"],
            "youth_justice": ["child", "date", "outcome"],
            "education_status": ["child", "month", "activity"],
        }
        for table, columns in specs.items():
            frame = self.out.frame(table, columns)
            frame.insert(0, "child_id", ids[frame.pop("child").to_numpy(int)])
            for c in ("term_start", "date", "month"):
                if c in frame:
                    frame[c] = frame[c].to_numpy().astype("datetime64[ns]")
            out[table] = frame.sort_values(["child_id", columns[1]], kind="stable").reset_index(
                drop=True
            )
        out["social_care"] = self._social_care_table()
        out["relationships"] = self.relationships
        return out

    def _social_care_table(self) -> pd.DataFrame:
        rows = self.episode_rows
        if not rows["child"]:
            return pd.DataFrame(
                {"child_id": [], "kind": [], "start": [], "end": [], "category": []}
            )
        frame = pd.DataFrame(
            {
                "child_id": self.pop.child_id[np.concatenate(rows["child"])],
                "kind": np.concatenate(rows["kind"]),
                "start": np.concatenate(rows["start"]).astype("datetime64[ns]"),
                "end": np.array(self.episode_end, dtype="datetime64[D]").astype("datetime64[ns]"),
                "category": np.concatenate(rows["category"]),
            }
        )
        return frame.sort_values(["child_id", "start"], kind="stable").reset_index(drop=True)

    # ------------------------------------------------------------------ outcomes at anchors
    def anchor(self, k: int) -> None:
        """Draw the year's outcomes from the features on anchor date ``D_k``; schedule them."""
        t = pd.Timestamp(self.bounds[k])
        records = index_records(self.tables())
        x = build_snapshot(records, t, self.registry)
        pos = pd.Index(self.pop.child_id).get_indexer(x["child_id"])
        acad = self.academic_age(k)[pos]
        rng, mech, targets = self.rng, self.mech, self.targets
        sd = mech.outcome_noise_sd

        # Serious violence: the whole cohort.
        eta = om.serious_violence_score(x, mech.serious_violence)
        b = om.solve_intercept(eta, sd, targets.rate("serious_violence_recorded"))
        p_sv = om.expected_sigmoid(eta + b, sd)
        rate_sv = self.config.police_recording_rate * np.where(
            self.pop.ethnicity[pos] == "Black", self.config.police_recording_bias, 1.0
        )
        ed_sees = mech.role["ed_given_victim"]  # what the police miss, an ED may still see

        # Permanent exclusion: pupils on roll; NEET: 16-17 year olds.
        pupil = (acad <= 15) & (np.nan_to_num(x["off_roll"].to_numpy(), nan=1.0) == 0)
        eta_px = om.permanent_exclusion_score(x, mech.permanent_exclusion)
        b_px = om.solve_intercept(eta_px[pupil], sd, targets.rate("permanently_excluded"))
        p_px = np.where(pupil, om.expected_sigmoid(eta_px + b_px, sd), 0.0)
        send = (x["send"].to_numpy() != "none") & (x["send"].to_numpy() != "unknown")
        rate_px = np.where(send, self.config.exclusion_bias_send, 1.0)

        older = (acad >= 16) & (acad <= 17)
        nk = mech.education["not_known_per_month"] * 1.15
        neet_rate = (targets.rate("neet_or_not_known_16_17") - nk) / mech.neet["mean_spell_share"]
        eta_neet = om.neet_score(x, mech.neet)
        b_neet = om.solve_intercept(eta_neet[older], sd, neet_rate)
        p_neet = np.where(older, om.expected_sigmoid(eta_neet + b_neet, sd), 0.0)

        # Outcome noise shares a component across outcomes (unrecorded causes act on both);
        # each outcome's own probability is unchanged: P(y = 1) = E_u[sigmoid(f + u)] = p.
        rho = mech.outcome_noise_correlation
        common = rng.standard_normal(len(pos))

        def draw(eta_b: np.ndarray) -> np.ndarray:
            u = sd * (np.sqrt(rho) * common + np.sqrt(1 - rho) * rng.standard_normal(len(pos)))
            return rng.random(len(pos)) < 1 / (1 + np.exp(-(eta_b + u)))

        y_sv = draw(eta + b)
        sv_police, sv_ed_only = om.draw_recorded(y_sv, p_sv, rate_sv, rng, ed_sees)
        y_sv_rec = sv_police | sv_ed_only
        y_px = pupil & draw(eta_px + b_px)
        y_px_rec, _ = om.draw_recorded(y_px, p_px, rate_px, rng)
        y_neet = older & draw(eta_neet + b_neet)

        self._schedule_year(k, pos, y_sv_rec, ~y_sv & sv_police, sv_ed_only, y_px_rec, y_neet)
        p_sv_rec = om.recorded_probability(p_sv, rate_sv, ed_sees)
        p_px_rec = om.recorded_probability(p_px, rate_px)
        self.truth.append(
            pd.DataFrame(
                {
                    "child_id": x["child_id"].to_numpy(),
                    "anchor_date": t,
                    "p_true_serious_violence": p_sv,
                    "p_recorded_serious_violence": p_sv_rec,
                    "y_true_serious_violence": y_sv,
                    "y_recorded_serious_violence": y_sv_rec,
                    "p_true_permanent_exclusion": p_px,
                    "p_recorded_permanent_exclusion": p_px_rec,
                    "p_neet": p_neet,
                    "p_true_exclusion_neet": 1 - (1 - p_px) * (1 - p_neet),
                    "p_recorded_exclusion_neet": 1 - (1 - p_px_rec) * (1 - p_neet),
                    "y_true_exclusion_neet": y_px | y_neet,
                    "y_recorded_exclusion_neet": y_px_rec | y_neet,
                }
            )
        )

    def _schedule_year(self, k, pos, sv, sv_police_only, sv_ed_only, px, neet) -> None:
        rng = self.rng
        idx = pos[sv]
        months = rng.integers(0, 12, len(idx))
        police_only, ed_only = sv_police_only[sv], sv_ed_only[sv]
        for mth in np.unique(months):
            sel = months == mth
            self.scheduled[k + mth].append(
                (
                    "serious_violence",
                    idx[sel],
                    {"police_only": police_only[sel], "ed_only": ed_only[sel]},
                )
            )
        idx = pos[px]
        months = rng.choice(SCHOOL_MONTHS, len(idx))
        for mth in np.unique(months):
            self.scheduled[k + mth].append(("permanent_exclusion", idx[months == mth], {}))
        self.neet_rows[:] = False
        idx = pos[neet]
        start = rng.integers(0, 12, len(idx))
        self.neet_rows[idx] = np.arange(12)[None, :] >= start[:, None]
