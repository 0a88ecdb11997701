"""Hand-made feature tables and a real fairness audit for the overview tests (imported by
name, as ``conftest`` is not).

A table has nine quarterly snapshots inside an 8-quarter trend window (and one before it) of
four ethnic groups: A and B (1,000 children each), C (40) and D (5, too few to show). The
scores are made so that exactly the planned number of each group's children are flagged, so
every figure can be checked against plain pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fairness import FairnessPolicy, audit, prepare_report, to_document

MODEL = "serious_violence"
LABEL = f"label_{MODEL}"
SIZES = {"A": 1000, "B": 1000, "C": 40, "D": 5}
DATES = pd.date_range("2024-06-01", periods=10, freq="3MS")
"""2024-06-01 (outside an 8-quarter window) then 2024-09-01 ... 2026-09-01."""
CAPACITY = 200
Z = 1.959963984540054


def plan(i: int, latest_b: int) -> dict[str, int]:
    """Children flagged per group at snapshot ``i``: B's share rises at the last one."""
    if i == len(DATES) - 1:
        return {"B": latest_b, "C": 10, "D": 0, "A": CAPACITY - latest_b - 10}
    return {"B": 100, "C": 10, "D": 0, "A": 90}


def make_table(latest_b: int = 180, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """The feature table and scores; a ``planned`` column says who should be flagged.

    Outcomes are known at the first six snapshots: 5% of A and 10% of B, 3 of C's children.
    """
    rng = np.random.default_rng(seed)
    frames, scores = [], []
    for i, date in enumerate(DATES):
        flags = plan(i, latest_b)
        for group, n in SIZES.items():
            planned = np.zeros(n, dtype=bool)
            planned[rng.choice(n, flags[group], replace=False)] = True
            positives = {"A": 50, "B": 100, "C": 3, "D": 0}[group]
            label = np.zeros(n)
            label[rng.choice(n, positives, replace=False)] = 1
            frames.append(
                pd.DataFrame(
                    {
                        "child_id": [f"{group}{k}" for k in range(n)],
                        "snapshot_date": date,
                        "sex": np.where(np.arange(n) % 2, "F", "M"),
                        "ethnicity": group,
                        "send": "none",
                        "area": np.where(np.arange(n) % 3, "E01", "E02"),
                        "age_years": 10 + np.arange(n) % 8,
                        LABEL: label if i < 6 else np.nan,
                        "planned": planned,
                    }
                )
            )
            scores.append(np.where(planned, 1 + rng.random(n), rng.random(n)))
    return pd.concat(frames, ignore_index=True), np.concatenate(scores)


def recording_doc(seed: int = 0) -> dict:
    """A real audit: group Y's outcomes recorded 1.5 times as often as they happen, and Y
    selected far more often, under a policy that checks selection rate."""
    rng = np.random.default_rng(seed)
    n = 6000
    group = np.where(np.arange(n) % 2, "Y", "X")
    truth = rng.random(n) < 0.1
    recorded = truth | ((group == "Y") & (rng.random(n) < 0.05 / 0.9))
    score = rng.random(n) + 0.5 * recorded + 0.3 * (group == "Y")
    frame = pd.DataFrame(
        {"score": score, "y": recorded.astype(int), "t": truth.astype(int), "ethnicity": group}
    )
    result = audit(
        frame,
        score="score",
        label="y",
        groups=["ethnicity"],
        top_k=0.1,
        true_label="t",
        n_boot=100,
        seed=seed,
    )
    policy = FairnessPolicy(metrics=["selection_rate"], group_columns=["ethnicity"])
    return to_document(prepare_report(result, policy=policy))
