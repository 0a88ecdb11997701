"""The careers service's NCCIS extract: one row per young person per month recorded.

Element names follow the NCCIS management information requirement (``YoungPersonsID``,
``GivenName``, ``FamilyName``, ``DOB``, ``ActivityCode``); ``ReportingMonth`` (the monthly
submission, ``YYYY-MM``) is proposed. Dates are ``YYYY-MM-DD``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkage.synth.raw.common import dates, draw, frame

COLUMNS = {
    "nccis": (
        "YoungPersonsID", "UniquePupilNumber", "GivenName", "FamilyName", "DOB", "Gender",
        "Ethnicity", "Postcode", "ReportingMonth", "ActivityCode",
    ),
}  # fmt: skip
"""The columns of the careers file."""

ACTIVITIES = {
    "EET": {
        "210": 0.36, "220": 0.10, "230": 0.30, "310": 0.09,
        "320": 0.03, "330": 0.05, "340": 0.02, "410": 0.05,
    },
    "NEET": {"610": 0.10, "619": 0.50, "620": 0.05, "630": 0.10, "640": 0.15, "680": 0.10},
    "not_known": {"810": 0.70, "820": 0.20, "830": 0.10},
}  # fmt: skip
"""The activity codes written for each contract activity, and how often (assumed)."""


def nccis(rows: pd.DataFrame, who: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One row per ``education_status`` row, with the service's record of the young person.

    Parameters
    ----------
    rows : pd.DataFrame
        The contract's ``education_status`` rows.
    who : pd.DataFrame
        For each row, the service's record of the young person.
    rng : numpy.random.Generator

    Returns
    -------
    pd.DataFrame
        Text columns :data:`COLUMNS` ``["nccis"]``, the activity coded by
        :data:`ACTIVITIES`.
    """
    return frame(
        COLUMNS["nccis"],
        {
            "YoungPersonsID": who["record_id"],
            "UniquePupilNumber": who["upn"],
            "GivenName": who["forename"],
            "FamilyName": who["surname"],
            "DOB": dates(who["dob"]),
            "Gender": who["sex"],
            "Ethnicity": who["dfe_ethnicity"],
            "Postcode": who["postcode"],
            "ReportingMonth": dates(rows["month"], "%Y-%m"),
            "ActivityCode": draw(rows["activity"], ACTIVITIES, rng),
        },
    )
