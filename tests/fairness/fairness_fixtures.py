"""Data for the fairness tests: the COMPAS file with ProPublica's filters, and random audits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
COMPAS_CSV = REPO.parent / "shared" / "data" / "compas" / "compas-scores-two-years.csv"
NO_COMPAS = f"the COMPAS file is not at {COMPAS_CSV} (it lives in shared/ beside the repository)"

PROPUBLICA_FILTERS = [
    "days_b_screening_arrest <= 30",
    "days_b_screening_arrest >= -30",
    "is_recid != -1",
    'c_charge_degree != "O"',
    'score_text != "N/A"',
]
"""ProPublica's filters, as `lantern audit --filter` expressions."""

BANNED_WORDS = ("gang", "offender", "subject", "chooses to", "deserve")


def compas_filtered() -> pd.DataFrame:
    """The COMPAS two-year file after ProPublica's filters, in plain pandas (no query)."""
    if not COMPAS_CSV.exists():
        pytest.skip(NO_COMPAS)
    df = pd.read_csv(COMPAS_CSV)
    keep = (
        df["days_b_screening_arrest"].between(-30, 30)
        & (df["is_recid"] != -1)
        & (df["c_charge_degree"] != "O")
        & (df["score_text"] != "N/A")
    )
    return df[keep].reset_index(drop=True)


def random_frame(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Random scores, recorded and true outcomes, a tied baseline and three group columns.

    Group sizes vary from thousands to a handful, so every suppression rule is exercised.
    """
    rng = np.random.default_rng(seed)
    ethnicity = rng.choice(
        ["White", "Black", "Asian", "Mixed", "Other", "Unknown"],
        n,
        p=[0.6, 0.15, 0.12, 0.08, 0.04, 0.01],
    )
    send = rng.choice(["none", "sen_support", "ehcp"], n, p=[0.8, 0.15, 0.05])
    sex = rng.choice(["F", "M"], n)
    risk = rng.beta(2, 5, n) + 0.1 * (ethnicity == "Black")
    score = np.round(np.clip(risk + rng.normal(0, 0.1, n), 0, 1), 3)  # some ties
    true = (rng.random(n) < np.clip(risk, 0, 1)).astype(int)
    recorded = true * (rng.random(n) < np.where(ethnicity == "Black", 0.9, 0.6))
    return pd.DataFrame(
        {
            "ethnicity": ethnicity,
            "send": send,
            "sex": sex,
            "score": score,
            "y": recorded.astype(int),
            "y_true": true,
            "baseline": rng.integers(0, 5, n),
            "child_id": rng.integers(0, n // 2, n),
        }
    )
