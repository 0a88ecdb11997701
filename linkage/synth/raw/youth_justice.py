"""The youth justice service's extract of outcomes. The YJB's case-level XML schema was not
found: the field names are plain ones and the outcome codes proposed. Dates are
``YYYY-MM-DD``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkage.synth.raw.common import dates, draw, frame

COLUMNS = {
    "outcomes": (
        "YJCaseId", "UPN", "Forename", "Surname", "DateOfBirth", "Sex", "Ethnicity",
        "Postcode", "OutcomeDate", "Outcome",
    ),
}  # fmt: skip
"""The columns of the youth justice file."""

OUTCOMES = {
    "community_resolution": {"CR": 1.0},
    "caution": {"YC": 0.7, "YCC": 0.3},
    "court_order": {"RO": 0.65, "YRO": 0.35},
    "custody": {"DTO": 1.0},
}
"""The outcome codes written for each contract outcome, and how often (assumed)."""


def outcomes(rows: pd.DataFrame, who: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One row per ``youth_justice`` row, with the service's record of the child.

    Parameters
    ----------
    rows : pd.DataFrame
        The contract's ``youth_justice`` rows.
    who : pd.DataFrame
        For each row, the service's record of the child.
    rng : numpy.random.Generator

    Returns
    -------
    pd.DataFrame
        Text columns :data:`COLUMNS` ``["outcomes"]``, the outcome coded by
        :data:`OUTCOMES`.
    """
    return frame(
        COLUMNS["outcomes"],
        {
            "YJCaseId": who["record_id"],
            "UPN": who["upn"],
            "Forename": who["forename"],
            "Surname": who["surname"],
            "DateOfBirth": dates(who["dob"]),
            "Sex": who["sex"],
            "Ethnicity": who["dfe_ethnicity"],
            "Postcode": who["postcode"],
            "OutcomeDate": dates(rows["date"]),
            "Outcome": draw(rows["outcome"], OUTCOMES, rng),
        },
    )
