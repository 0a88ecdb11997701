"""The children, their families, neighbourhoods and peer groups, and their latent traits.

Latent traits (standard normal unless said otherwise) are the causes nobody records:
neighbourhood deprivation and crime, family deprivation and adversity, a child's special
educational needs, mental health and exploitation risk. Siblings share their family's traits
and neighbourhood; peers share a fluctuating exploitation component.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract.vocabulary import ETHNICITY
from features.synth.config import ETHNICITY_PRESETS, Mechanics, SynthConfig, Targets

SEGREGATION = {"Black": 1.0, "Asian": 0.6, "Mixed": 0.5, "Other": 0.3, "White": 0.0, "Unknown": 0.0}
"""Relative pull of deprived neighbourhoods on families of each group (A: a shape, not a figure)."""


@dataclass
class Population:
    """Everyone the partnership will hold records on, with their hidden traits."""

    child_id: np.ndarray
    birth: np.ndarray  # datetime64[M]
    male: np.ndarray
    ethnicity: np.ndarray  # str
    family: np.ndarray
    area: np.ndarray
    peer_group: np.ndarray
    area_deprivation: np.ndarray  # per area
    area_crime: np.ndarray  # per area
    high_risk_area: np.ndarray  # per area, bool
    family_deprivation: np.ndarray
    fsm: np.ndarray
    adversity: np.ndarray
    sen_status: np.ndarray  # 0 none, 1 SEN support, 2 EHCP
    sen_latent: np.ndarray
    mental_health: np.ndarray
    exploitation_base: np.ndarray

    @property
    def n(self) -> int:
        """How many children."""
        return len(self.child_id)

    def children_table(self) -> pd.DataFrame:
        """The ``children`` extract."""
        birth = pd.DatetimeIndex(self.birth.astype("datetime64[ns]"))
        return pd.DataFrame(
            {
                "child_id": self.child_id,
                "birth_month": birth,
                "sex": np.where(self.male, "M", "F"),
                "ethnicity": self.ethnicity,
                "area": np.char.add("LSOA-S", np.char.zfill(self.area.astype(str), 4)),
            }
        )

    def relationships_table(self) -> pd.DataFrame:
        """Sibling and peer links, both directions."""
        frames = [
            _pairs_within(self.family, "sibling", self.child_id),
            _pairs_within(self.peer_group, "peer", self.child_id),
        ]
        return pd.concat(frames, ignore_index=True)


def _pairs_within(group: np.ndarray, kind: str, ids: np.ndarray) -> pd.DataFrame:
    order = np.argsort(group, kind="stable")
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    sizes = np.diff(np.r_[starts, len(g)])
    left, right = [], []
    for size in np.unique(sizes[sizes > 1]):
        blocks = order[starts[sizes == size][:, None] + np.arange(size)]
        i, j = np.nonzero(~np.eye(size, dtype=bool))
        left.append(blocks[:, i].ravel())
        right.append(blocks[:, j].ravel())
    if not left:
        return pd.DataFrame({"child_id": [], "related_child_id": [], "relationship": []})
    left, right = np.concatenate(left), np.concatenate(right)
    return pd.DataFrame(
        {"child_id": ids[left], "related_child_id": ids[right], "relationship": kind}
    )


def birth_months(config: SynthConfig, rng: np.random.Generator) -> np.ndarray:
    """Birth months: exactly ``children`` aged 10-17 on the last anchor, plus the older
    children who were 10-17 on an earlier snapshot of the study."""
    last_anchor = np.datetime64(config.end, "M") - 12
    n_extra = round(config.children * (config.years - 1) / 8)
    months_old = np.concatenate(
        [
            rng.integers(120, 216, config.children),
            rng.integers(216, 216 + 12 * (config.years - 1), n_extra),
        ]
    )
    return last_anchor - months_old


def make_population(
    config: SynthConfig, targets: Targets, mech: Mechanics, rng: np.random.Generator
) -> Population:
    """Draw the partnership's children and their hidden traits."""
    births = birth_months(config, rng)
    n = len(births)
    m_pop, m_lat = mech.population, mech.latent

    # Families: siblings share ethnicity, neighbourhood, deprivation and adversity.
    sizes = 1 + rng.poisson(m_pop["family_size_mean"] - 1, n)
    family = np.repeat(np.arange(n), sizes)[:n]
    family = family[rng.permutation(n)]
    n_families = family.max() + 1

    shares = ETHNICITY_PRESETS[config.ethnicity_preset]
    groups = np.array(ETHNICITY)
    family_ethnicity = rng.choice(groups, n_families, p=[shares[g] for g in groups])

    n_areas = max(8, round(config.children / m_pop["children_per_area"]))
    area_deprivation = rng.standard_normal(n_areas)
    area_crime = 0.7 * area_deprivation + np.sqrt(1 - 0.49) * rng.standard_normal(n_areas)
    pull = np.array([SEGREGATION[g] for g in family_ethnicity]) * m_pop["area_segregation"]
    gumbel = rng.gumbel(size=(n_families, n_areas)).astype(np.float32)
    family_area = np.argmax(pull[:, None] * area_deprivation[None, :] + gumbel, axis=1)
    area = family_area[family]

    high_risk = high_risk_areas(
        area_deprivation,
        area_crime,
        np.bincount(area, minlength=n_areas),
        targets.rate("high_risk_neighbourhood"),
    )

    family_deprivation = 0.6 * area_deprivation[family_area] + 0.8 * rng.standard_normal(n_families)
    adv = m_lat["adversity_from_deprivation"]
    family_adversity = adv * family_deprivation + np.sqrt(1 - adv**2) * rng.standard_normal(
        n_families
    )
    deprivation = family_deprivation[family]
    fsm = deprivation > np.quantile(deprivation, 1 - targets.rate("fsm_eligible"))
    adversity = family_adversity[family]

    male = rng.random(n) < targets.rate("male")
    sen_latent = rng.standard_normal(n) + 0.25 * adversity
    sen_status = assign_sen(sen_latent, male, targets)

    mh = m_lat["mental_health_adversity"]
    mental_health = mh * adversity + np.sqrt(1 - mh**2) * rng.standard_normal(n)

    crime = area_crime[area]
    exploitation_base = (
        m_lat["exploitation_mental_health"] * mental_health
        + m_lat["exploitation_male"] * (male - 0.5) * 2
        + m_lat["exploitation_area_crime"] * crime
        + m_lat["exploitation_adversity"] * adversity
        + m_lat["exploitation_sen"] * sen_latent
        + 0.6 * rng.standard_normal(n)
    )
    exploitation_base -= exploitation_base.mean()

    peer_group = peer_groups(area, births, int(m_pop["peer_group_size"]), rng)
    ids = rng.choice(9_000_000, n, replace=False) + 1_000_000
    return Population(
        child_id=np.char.add("C", ids.astype(str)),
        birth=births,
        male=male,
        ethnicity=family_ethnicity[family],
        family=family,
        area=area,
        peer_group=peer_group,
        area_deprivation=area_deprivation,
        area_crime=area_crime,
        high_risk_area=high_risk,
        family_deprivation=deprivation,
        fsm=fsm,
        adversity=adversity,
        sen_status=sen_status,
        sen_latent=sen_latent,
        mental_health=mental_health,
        exploitation_base=exploitation_base,
    )


def high_risk_areas(
    deprivation: np.ndarray, crime: np.ndarray, children: np.ndarray, share: float
) -> np.ndarray:
    """Flag the areas high on both crime and deprivation holding ``share`` of the children."""
    rank = np.minimum(deprivation.argsort().argsort(), crime.argsort().argsort())
    order = np.argsort(-rank, kind="stable")
    cumulative = np.cumsum(children[order]) / children.sum()
    flagged = np.zeros(len(deprivation), dtype=bool)
    flagged[order[: np.searchsorted(cumulative, share) + 1]] = True
    return flagged


def assign_sen(latent: np.ndarray, male: np.ndarray, targets: Targets) -> np.ndarray:
    """SEN status from the latent need, with boys about twice as often identified as girls."""
    ratio = targets.rate("sen_boys_to_girls")
    male_share = male.mean()
    status = np.zeros(len(latent), dtype=np.int8)
    for rate, level in (
        (targets.rate("sen_support") + targets.rate("ehcp"), 1),
        (targets.rate("ehcp"), 2),
    ):
        girls = rate / (male_share * ratio + (1 - male_share))
        for is_male, p in ((True, girls * ratio), (False, girls)):
            mask = male == is_male
            status[mask & (latent > np.quantile(latent[mask], 1 - p))] = level
    return status


def peer_groups(
    area: np.ndarray, births: np.ndarray, size: int, rng: np.random.Generator
) -> np.ndarray:
    """Peer groups of about ``size`` children of the same neighbourhood and school year."""
    year = births.astype("datetime64[Y]").astype(int)
    order = np.lexsort((rng.random(len(area)), year, area))
    key = area[order] * 10_000 + year[order]
    new_key = np.r_[True, key[1:] != key[:-1]]
    position = np.arange(len(key)) - np.maximum.accumulate(
        np.where(new_key, np.arange(len(key)), 0)
    )
    group_in_key = position // size
    group = np.cumsum(new_key | (np.r_[0, np.diff(group_in_key)] > 0)) - 1
    out = np.empty(len(area), dtype=np.int64)
    out[order] = group
    return out
