"""The police extract. There is no national person-level format: this is a plain one.

One row per record naming the child, with the force's person reference (``PersonURN``),
the Home Office offence group in words and Y/N flags. Dates are ``YYYY-MM-DD``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkage.synth.raw.common import dates, flags, frame, links, recode

COLUMNS = {
    "involvements": (
        "PersonURN", "Forename", "Surname", "DateOfBirth", "Sex", "Postcode", "IncidentDate",
        "Role", "OffenceGroup", "SeriousViolence", "Knife",
    ),
    "associates": ("PersonURN", "AssociateURN"),
}  # fmt: skip
"""The columns of the police file."""

ROLE = {
    "victim": "VICTIM",
    "suspect": "SUSPECT",
    "missing_person": "MISSING",
    "stop_search": "STOPSEARCH",
}
"""The Role code of each contract role."""

OFFENCE_GROUP = {
    "none": "None",
    "violence_with_injury": "Violence with injury",
    "violence_without_injury": "Violence without injury",
    "robbery": "Robbery",
    "possession_of_weapons": "Possession of weapons offences",
    "sexual_offences": "Sexual offences",
    "drug_offences": "Drug offences",
    "theft": "Theft offences",
    "criminal_damage": "Criminal damage and arson",
    "public_order": "Public order offences",
}
"""The Home Office offence group name of each contract offence group."""


def involvements(rows: pd.DataFrame, who: pd.DataFrame) -> pd.DataFrame:
    """One row per ``police`` row, with the force's record of the person.

    Parameters
    ----------
    rows : pd.DataFrame
        The contract's ``police`` rows.
    who : pd.DataFrame
        For each row, the force's record of the child.

    Returns
    -------
    pd.DataFrame
        Text columns :data:`COLUMNS` ``["involvements"]``.
    """
    return frame(
        COLUMNS["involvements"],
        {
            "PersonURN": who["record_id"],
            "Forename": who["forename"],
            "Surname": who["surname"],
            "DateOfBirth": dates(who["dob"]),
            "Sex": who["sex"],
            "Postcode": who["postcode"],
            "IncidentDate": dates(rows["date"]),
            "Role": recode(rows["role"], ROLE, "police role"),
            "OffenceGroup": recode(rows["offence_group"], OFFENCE_GROUP, "offence group"),
            "SeriousViolence": flags(rows["serious_violence"], "Y", "N"),
            "Knife": flags(rows["knife"], "Y", "N"),
        },
    )


def associates(relationships: pd.DataFrame, who: pd.DataFrame, rng: np.random.Generator):
    """The peer links police intelligence holds between people the force has records of
    (a plain format: each person's reference and an associate's); one row per direction."""
    pairs = relationships[relationships["relationship"] == "peer"]
    found = links(pairs, who, rng)
    return frame(
        COLUMNS["associates"],
        {"PersonURN": found["record_id"], "AssociateURN": found["related_record_id"]},
    )
