"""Health extracts: emergency department attendances (ECDS) and CAMHS referrals (MHSDS).

Both are flattened to one row per attendance or referral, with the patient's identity from
the trust's record (``LocalPatientId``). Dates are ``YYYY-MM-DD``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkage.synth.raw.common import dates, flags, frame

COLUMNS = {
    "ecds_attendances": (
        "LocalPatientId", "NHS_NUMBER", "NHS_NUMBER_STATUS_INDICATOR_CODE",
        "PERSON_GIVEN_NAME", "PERSON_FAMILY_NAME", "PERSON_BIRTH_DATE",
        "PERSON_STATED_GENDER_CODE", "ETHNIC_CATEGORY", "POSTCODE_USUAL_ADDRESS",
        "EMERGENCY_CARE_ARRIVAL_DATE", "INJURY_INTENT",
    ),
    "mhsds_referrals": (
        "LocalPatientId", "NHSNumber", "GivenName", "FamilyName", "PersonBirthDate", "Gender",
        "EthnicCategory", "Postcode", "ReferralRequestReceivedDate",
    ),
}  # fmt: skip
"""The columns of each health file."""

GENDER = {"M": "1", "F": "2"}
"""PERSON_STATED_GENDER_CODE (ECDS) and Gender (MHSDS) codes (proposed)."""

SETTINGS = {"ecds_attendances": "emergency_department", "mhsds_referrals": "camhs_referral"}
"""The contract ``setting`` of each health file's rows."""


def ecds_attendances(rows: pd.DataFrame, who: pd.DataFrame) -> pd.DataFrame:
    """Emergency department attendances: one row per ``health`` row in that setting.

    Parameters
    ----------
    rows : pd.DataFrame
        The contract's ``health`` rows with setting ``emergency_department``.
    who : pd.DataFrame
        For each row, the trust's record of the patient.

    Returns
    -------
    pd.DataFrame
        Text columns :data:`COLUMNS` ``["ecds_attendances"]``. The NHS number status is
        01 (present and verified) when a number is held, else 07 (not present, trace not
        required). ``INJURY_INTENT`` holds the placeholder local values ``assault`` and
        ``other``, standing for the SNOMED CT codes a partnership puts there.
    """
    nhs = who["nhs_number"].to_numpy(dtype=object)
    return frame(
        COLUMNS["ecds_attendances"],
        {
            "LocalPatientId": who["record_id"],
            "NHS_NUMBER": nhs,
            "NHS_NUMBER_STATUS_INDICATOR_CODE": np.where(nhs != "", "01", "07"),
            "PERSON_GIVEN_NAME": who["forename"],
            "PERSON_FAMILY_NAME": who["surname"],
            "PERSON_BIRTH_DATE": dates(who["dob"]),
            "PERSON_STATED_GENDER_CODE": [GENDER.get(s, "") for s in who["sex"]],
            "ETHNIC_CATEGORY": who["nhs_ethnicity"],
            "POSTCODE_USUAL_ADDRESS": who["postcode"],
            "EMERGENCY_CARE_ARRIVAL_DATE": dates(rows["date"]),
            "INJURY_INTENT": flags(rows["assault_related"], "assault", "other"),
        },
    )


def mhsds_referrals(rows: pd.DataFrame, who: pd.DataFrame) -> pd.DataFrame:
    """CAMHS referrals: one row per ``health`` row with setting ``camhs_referral``.

    ``GivenName`` and ``FamilyName`` are the trust's local fields, not MHSDS ones.
    """
    return frame(
        COLUMNS["mhsds_referrals"],
        {
            "LocalPatientId": who["record_id"],
            "NHSNumber": who["nhs_number"],
            "GivenName": who["forename"],
            "FamilyName": who["surname"],
            "PersonBirthDate": dates(who["dob"]),
            "Gender": [GENDER.get(s, "") for s in who["sex"]],
            "EthnicCategory": who["nhs_ethnicity"],
            "Postcode": who["postcode"],
            "ReferralRequestReceivedDate": dates(rows["date"]),
        },
    )
