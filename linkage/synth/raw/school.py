"""The school's extracts, in the field names and codes of the DfE school census.

``census_pupils`` is the pupil-level termly census (with attendance and free-school-meals
periods) plus two fields the local authority adds from its own registers; ``exclusions`` is
the census's exclusions module. Dates are ``YYYY-MM-DD``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkage.synth.raw.common import dates, draw, flags, frame, links, numbers, recode

COLUMNS = {
    "census_pupils": (
        "PupilRef", "UPN", "Surname", "Forename", "DOB", "Sex", "Ethnicity", "Postcode",
        "CensusDate", "LAEstab", "EnrolStatus", "FSMstartDate", "FSMendDate",
        "SENprovision", "TermlySessionsPossible", "TermlySessionsAuthorised",
        "TermlySessionsUnauthorised", "APPlacement", "EHE",
    ),
    "exclusions": (
        "PupilRef", "UPN", "Surname", "Forename", "DOB", "Sex", "Category", "StartDate",
        "Reason", "Sessions",
    ),
    "siblings": ("PupilRef", "SiblingPupilRef"),
}  # fmt: skip
"""The columns of each school file."""

SEN = {"none": "N", "sen_support": "K", "ehcp": "E"}
"""The census's SENprovision code of each contract ``sen_status``."""

CATEGORY = {"suspension": "SUSP", "permanent": "PERM"}
"""The exclusion Category of each contract ``kind``."""

REASONS = {
    "persistent_disruptive_behaviour": {"DB": 1.0},
    "physical_assault_pupil": {"PP": 1.0},
    "physical_assault_adult": {"PA": 1.0},
    "verbal_abuse": {"VP": 0.6, "VA": 0.4},
    "drug_or_alcohol": {"DA": 1.0},
    "damage": {"DM": 1.0},
    "use_or_threat_of_weapon": {"OW": 1.0},
    "bullying": {"BU": 1.0},
    "other": {"RA": 0.2, "LG": 0.1, "DS": 0.1, "SM": 0.15, "TH": 0.2, "MT": 0.2, "PH": 0.05},
}
"""The current reason codes written for each contract reason, and how often (assumed)."""

FSM_OPENED_DAYS = (20, 500)
"""How many days before the census date an open free-school-meals period began (a range)."""


def census_pupils(
    census: pd.DataFrame, who: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """The pupil census: one row per ``school_census`` row, as the school returns it.

    Parameters
    ----------
    census : pd.DataFrame
        The contract's ``school_census`` rows.
    who : pd.DataFrame
        For each row, the school's record of the pupil (rows of
        :func:`~linkage.synth.raw.common.identities`, in the same order).
    rng : numpy.random.Generator

    Returns
    -------
    pd.DataFrame
        Text columns :data:`COLUMNS` ``["census_pupils"]``. A pupil eligible for free school
        meals has a period opened before the census date and not ended; ``EnrolStatus`` is
        ``C`` when on roll, else empty; ``APPlacement`` and ``EHE`` are 1/0.
    """
    on = pd.to_datetime(census["term_start"]).reset_index(drop=True)
    fsm = census["fsm_eligible"].to_numpy(dtype=bool)
    opened = on - pd.to_timedelta(rng.integers(*FSM_OPENED_DAYS, size=len(on)), unit="D")
    missed = census["sessions_missed"].to_numpy()
    unauthorised = census["sessions_unauthorised"].to_numpy()
    return frame(
        COLUMNS["census_pupils"],
        {
            "PupilRef": who["record_id"],
            "UPN": who["upn"],
            "Surname": who["surname"],
            "Forename": who["forename"],
            "DOB": dates(who["dob"]),
            "Sex": who["sex"],
            "Ethnicity": who["dfe_ethnicity"],
            "Postcode": who["postcode"],
            "CensusDate": dates(on),
            "LAEstab": census["school_id"].to_numpy(dtype=object),
            "EnrolStatus": flags(census["on_roll"], "C", ""),
            "FSMstartDate": np.where(fsm, dates(opened), ""),
            "FSMendDate": np.full(len(on), ""),
            "SENprovision": recode(census["sen_status"], SEN, "sen_status"),
            "TermlySessionsPossible": numbers(census["sessions_possible"]),
            "TermlySessionsAuthorised": numbers(missed - unauthorised),
            "TermlySessionsUnauthorised": numbers(unauthorised),
            "APPlacement": flags(census["alternative_provision"], "1", "0"),
            "EHE": flags(census["elective_home_education"], "1", "0"),
        },
    )


def exclusions(rows: pd.DataFrame, who: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The exclusions module: one row per ``exclusions`` row.

    Parameters
    ----------
    rows : pd.DataFrame
        The contract's ``exclusions`` rows.
    who : pd.DataFrame
        For each row, the school's record of the pupil.
    rng : numpy.random.Generator

    Returns
    -------
    pd.DataFrame
        Text columns :data:`COLUMNS` ``["exclusions"]``: Category SUSP/PERM, a current Reason
        code meaning the contract reason (:data:`REASONS`), and Sessions, two per day
        (empty when the length is not known).
    """
    return frame(
        COLUMNS["exclusions"],
        {
            "PupilRef": who["record_id"],
            "UPN": who["upn"],
            "Surname": who["surname"],
            "Forename": who["forename"],
            "DOB": dates(who["dob"]),
            "Sex": who["sex"],
            "Category": recode(rows["kind"], CATEGORY, "exclusion kind"),
            "StartDate": dates(rows["date"]),
            "Reason": draw(rows["reason"], REASONS, rng),
            "Sessions": numbers(rows["days"].to_numpy(dtype=float) * 2),
        },
    )


def siblings(relationships: pd.DataFrame, who: pd.DataFrame, rng: np.random.Generator):
    """The sibling links the schools' records hold (proposed: a school MIS's sibling
    contacts), between pupils the school census holds; one row per direction."""
    pairs = relationships[relationships["relationship"] == "sibling"]
    found = links(pairs, who, rng)
    return frame(
        COLUMNS["siblings"],
        {"PupilRef": found["record_id"], "SiblingPupilRef": found["related_record_id"]},
    )
