"""The generator's outcome model: true and recorded outcome probabilities at an anchor.

For each outcome, ``p = E_u[sigmoid(f(x) + b + u)]`` with ``x`` the child's features on the
anchor date (computed by the same feature functions the pipeline uses), ``u ~ N(0, sd^2)``
independent noise (what no record shows), and ``b`` solved so the partnership's mean matches
its target rate. Windows that start at annual anchors never overlap, so ``p`` is the exact
Bayes probability of the outcome given the observed records.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import brentq

_NODES, _WEIGHTS = np.polynomial.hermite.hermgauss(24)


def expected_sigmoid(eta: np.ndarray, sd: float) -> np.ndarray:
    """``E[sigmoid(eta + u)]`` for ``u ~ N(0, sd^2)``, by Gauss-Hermite quadrature."""
    z = eta[..., None] + np.sqrt(2.0) * sd * _NODES
    return (1.0 / (1.0 + np.exp(-z))) @ _WEIGHTS / np.sqrt(np.pi)


def solve_intercept(eta: np.ndarray, sd: float, rate: float) -> float:
    """The intercept ``b`` for which the mean of ``E[sigmoid(eta + b + u)]`` is ``rate``."""
    if not len(eta):
        return 0.0
    return brentq(lambda b: expected_sigmoid(eta + b, sd).mean() - rate, -30.0, 30.0, xtol=1e-9)


def _col(x: pd.DataFrame, name: str, fill: float = 0.0) -> np.ndarray:
    return np.nan_to_num(x[name].to_numpy(float), nan=fill)


def _log(x: pd.DataFrame, name: str) -> np.ndarray:
    return np.log1p(_col(x, name))


def _attendance_gap(x: pd.DataFrame) -> np.ndarray:
    return np.clip(0.95 - _col(x, "attendance_12m", fill=0.95), 0.0, None)


def _social_care_open(x: pd.DataFrame) -> np.ndarray:
    return np.maximum.reduce(
        [_col(x, c) for c in ("child_in_need_open", "protection_plan_open", "looked_after_open")]
    )


def _sen(x: pd.DataFrame) -> np.ndarray:
    return np.maximum(_col(x, "sen_support"), _col(x, "ehcp"))


def serious_violence_score(x: pd.DataFrame, w: dict[str, float]) -> np.ndarray:
    """Log-odds of involvement in serious violence in the next 12 months, before the intercept."""
    age = _col(x, "age_years", 13.0) - 13.0
    return (
        w["log_suspect_12m"] * _log(x, "suspect_12m")
        + w["log_victim_12m"] * _log(x, "victim_of_crime_12m")
        + w["serious_violence_ever"] * _col(x, "serious_violence_ever")
        + w["ed_assault_ever"] * _col(x, "ed_assault_ever")
        + w["log_stop_search_12m"] * _log(x, "stop_search_12m")
        + w["log_missing_12m"] * _log(x, "missing_episodes_12m")
        + w["looked_after_ever"] * _col(x, "looked_after_ever")
        + w["protection_plan_ever"] * _col(x, "protection_plan_ever")
        + w["child_in_need_ever"] * _col(x, "child_in_need_ever")
        + w["early_help_24m"] * _col(x, "early_help_24m")
        + w["harm_outside_home"] * _col(x, "harm_outside_home_recorded")
        + w["domestic_abuse"] * _col(x, "domestic_abuse_recorded")
        + w["mental_health_need"]
        * np.maximum(_col(x, "mental_health_need_recorded"), _col(x, "camhs_referral_24m"))
        + w["permanently_excluded_ever"] * _col(x, "permanently_excluded_ever")
        + w["log_suspensions_12m"] * _log(x, "suspensions_12m")
        + w["attendance_gap"] * _attendance_gap(x)
        + w["neet_now"] * _col(x, "neet_now")
        + w["caution_or_conviction_ever"] * _col(x, "caution_or_conviction_ever")
        + w["peer_violence"] * _col(x, "peer_serious_violence_12m")
        + w["sibling_violence"] * _col(x, "sibling_serious_violence_12m")
        + w["area_violence"] * _col(x, "area_serious_violence_12m")
        + w["area_fsm"] * _col(x, "area_free_school_meals", 0.25)
        + w["age"] * age
        + w["age_squared"] * age**2
        + w["sen"] * _sen(x)
        + w["missing_and_harm_outside_home"]
        * (_col(x, "missing_episodes_12m") > 0)
        * _col(x, "harm_outside_home_recorded")
    )


def permanent_exclusion_score(x: pd.DataFrame, w: dict[str, float]) -> np.ndarray:
    """Log-odds of a permanent exclusion in the next 12 months, before the intercept."""
    return (
        w["log_suspensions_12m"] * _log(x, "suspensions_12m")
        + w["log_suspension_days_12m"] * _log(x, "suspension_days_12m")
        + w["attendance_gap"] * _attendance_gap(x)
        + w["suspect_12m"] * np.minimum(_col(x, "suspect_12m"), 2)
        + w["social_care_open"] * _social_care_open(x)
        + w["sen"] * _sen(x)
        + w["age"] * np.clip(_col(x, "age_years", 13.0) - 12.0, -2, 3)
        + w["alternative_provision"] * _col(x, "alternative_provision")
    )


def neet_score(x: pd.DataFrame, w: dict[str, float]) -> np.ndarray:
    """Log-odds of a NEET spell at 16-17 in the next 12 months, before the intercept."""
    return (
        w["neet_now"] * _col(x, "neet_now")
        + w["not_known_now"] * _col(x, "activity_not_known_now")
        + w["log_neet_months_12m"] * _log(x, "neet_months_12m")
        + w["permanently_excluded_ever"] * _col(x, "permanently_excluded_ever")
        + w["attendance_gap"] * _attendance_gap(x)
        + w["log_suspensions_12m"] * _log(x, "suspensions_12m")
        + w["looked_after_ever"] * _col(x, "looked_after_ever")
        + w["social_care_open"] * _social_care_open(x)
        + w["log_suspect_12m"] * _log(x, "suspect_12m")
        + w["sen"] * _sen(x)
        + w["serious_violence_ever"] * _col(x, "serious_violence_ever")
    )


def recorded_probability(
    p_true: np.ndarray, rate: np.ndarray, seen_elsewhere: float = 0.0
) -> np.ndarray:
    """Probability the outcome is recorded when one agency records at ``rate`` times the truth.

    An outcome that agency misses (``rate < 1``) is still recorded, with probability
    ``seen_elsewhere``, by another agency (an emergency department sees the injury).
    """
    kept = np.minimum(rate, 1.0)
    return np.minimum(1.0, p_true * np.maximum(rate, kept + (1 - kept) * seen_elsewhere))


def draw_recorded(
    y_true: np.ndarray,
    p_true: np.ndarray,
    rate: np.ndarray,
    rng: np.random.Generator,
    seen_elsewhere: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Which outcomes the agency records, and which only another agency records.

    ``P(recorded) = recorded_probability(p_true, rate, seen_elsewhere)`` exactly.
    Under-recording (``rate < 1``) misses true outcomes, each then seen elsewhere with
    probability ``seen_elsewhere``; over-recording (``rate > 1``) adds records for children
    whose true outcome did not happen, at equal behaviour.

    Returns
    -------
    by_agency, elsewhere_only : numpy.ndarray of bool
        Outcomes the agency records (true or not), and true outcomes it missed that another
        agency records.
    """
    u = rng.random(len(y_true))
    extra_rate = np.maximum(rate, 1.0)
    p_over = np.minimum(1.0, p_true * extra_rate)
    with np.errstate(invalid="ignore", divide="ignore"):
        extra = np.where(p_true < 1, (p_over - p_true) / (1 - p_true), 0.0)
    keep = np.minimum(rate, 1.0)
    by_agency = np.where(y_true, u < keep, u < np.clip(extra, 0, 1))
    missed = y_true & ~by_agency
    if seen_elsewhere <= 0 or not missed.any():  # no draw: other partnerships' draws unchanged
        return by_agency, np.zeros_like(missed)
    return by_agency, missed & (rng.random(len(y_true)) < seen_elsewhere)
