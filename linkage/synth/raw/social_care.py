"""Children's social care extracts: the CIN census, the SSDA903 return and early help.

One local authority holds all three under one person reference (``LAchildID`` in the CIN
census, ``CHILD`` in SSDA903). The CIN census and SSDA903 carry no names or address; the
names and postcode here are the LA's case-system fields exported beside them. Early help has
no national return: its file's fields are proposed. CIN dates are ``YYYY-MM-DD``, SSDA903
dates ``dd/mm/YYYY``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkage.synth.raw.common import dates, draw, frame, pick

COLUMNS = {
    "cin_children": (
        "LAchildID", "UPN", "Forename", "Surname", "PersonBirthDate", "GenderCurrent",
        "Ethnicity", "PostCode",
    ),
    "cin_episodes": (
        "LAchildID", "CINreferralDate", "CINclosureDate", "PrimaryNeedCode", "AssessmentFactors",
    ),
    "child_protection_plans": (
        "LAchildID", "CPPstartDate", "CPPendDate", "PrimaryNeedCode", "AssessmentFactors",
    ),
    "early_help": (
        "LAchildID", "EHAStartDate", "EHAEndDate", "PrimaryNeedCode", "AssessmentFactors",
    ),
    "ssda903_header": ("CHILD", "SEX", "DOB", "ETHNIC", "UPN", "Forename", "Surname"),
    "ssda903_episodes": ("CHILD", "DECOM", "DEC", "RNE", "LS", "CIN", "PL", "HOME_POST"),
}  # fmt: skip
"""The columns of each social care file."""

GENDER = {"M": "1", "F": "2"}
"""GenderCurrent (CIN) and SEX (SSDA903) codes."""

NEED = {
    "abuse_or_neglect": "N1",
    "child_disability": "N2",
    "parental_illness_or_disability": "N3",
    "family_in_acute_stress": "N4",
    "family_dysfunction": "N5",
    "socially_unacceptable_behaviour": "N6",
    "low_income": "N7",
    "absent_parenting": "N8",
}
"""The category of need (N1-N8) of each contract category that is one."""

FACTOR = {
    "domestic_abuse": ("N1", {"3A": 1.0}),
    "child_mental_health": ("N5", {"4A": 1.0}),
    "extra_familial_harm": ("N6", {"24A": 0.35, "13A": 0.25, "11A": 0.25, "10A": 0.15}),
}
"""For a contract category that is a factor at assessment: the primary need recorded with it
and the factor codes written, with assumed shares."""

LEGAL_STATUS = {"C2": 0.45, "V2": 0.30, "C1": 0.18, "E1": 0.07}
"""SSDA903 LS codes drawn for a new episode (assumed shares)."""

PLACEMENT = {"U1": 0.12, "U3": 0.38, "U4": 0.14, "U6": 0.08, "K2": 0.15, "P1": 0.05, "R1": 0.08}
"""SSDA903 PL codes drawn for a new episode (assumed shares)."""

DATE_903 = "%d/%m/%Y"


def need_codes(categories, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The CIN census ``PrimaryNeedCode`` and ``AssessmentFactors`` of each category.

    A category of need is its N code with no factor; a factor category (:data:`FACTOR`) is
    its factor code with the primary need recorded beside it.
    """
    categories = pd.Series(categories, dtype=object).to_numpy()
    primary = np.array([NEED.get(c, FACTOR.get(c, ("",))[0]) for c in categories], dtype=object)
    if (primary == "").any():
        raise ValueError(f"no need code for {sorted(set(categories[primary == '']))}")
    factor_shares = {c: shares for c, (_, shares) in FACTOR.items()}
    factors = np.full(len(categories), "", dtype=object)
    is_factor = np.isin(categories, list(FACTOR))
    factors[is_factor] = draw(categories[is_factor], factor_shares, rng)
    return primary, factors


def cin_children(who: pd.DataFrame) -> pd.DataFrame:
    """The CIN census's child identifiers and characteristics: one row per LA record.

    ``Forename``, ``Surname`` and ``PostCode`` are not in the DfE return; they are the LA's
    case-system fields, exported beside it.
    """
    return frame(
        COLUMNS["cin_children"],
        {
            "LAchildID": who["record_id"],
            "UPN": who["upn"],
            "Forename": who["forename"],
            "Surname": who["surname"],
            "PersonBirthDate": dates(who["dob"]),
            "GenderCurrent": [GENDER.get(s, "") for s in who["sex"]],
            "Ethnicity": who["dfe_ethnicity"],
            "PostCode": who["postcode"],
        },
    )


def _episodes(name: str, rows: pd.DataFrame, who: pd.DataFrame, rng) -> pd.DataFrame:
    start, end, primary, factors = COLUMNS[name][1:]
    need, factor = need_codes(rows["category"], rng)
    return frame(
        COLUMNS[name],
        {
            "LAchildID": who["record_id"],
            start: dates(rows["start"]),
            end: dates(rows["end"]),
            primary: need,
            factors: factor,
        },
    )


def cin_episodes(rows: pd.DataFrame, who: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """CIN episodes (referral to closure): one row per ``social_care`` row of kind ``cin``.

    Parameters
    ----------
    rows : pd.DataFrame
        The contract's ``social_care`` rows of kind ``cin``.
    who : pd.DataFrame
        For each row, the LA's record of the child.
    rng : numpy.random.Generator

    Returns
    -------
    pd.DataFrame
        Text columns :data:`COLUMNS` ``["cin_episodes"]``, coded by :func:`need_codes`.
    """
    return _episodes("cin_episodes", rows, who, rng)


def child_protection_plans(
    rows: pd.DataFrame, who: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """Child protection plans: one row per ``social_care`` row of kind ``cp``.

    In the CIN census a plan sits inside its CIN episode, so each row carries that
    episode's ``PrimaryNeedCode`` and ``AssessmentFactors`` (:func:`need_codes`).
    """
    return _episodes("child_protection_plans", rows, who, rng)


def early_help(rows: pd.DataFrame, who: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Early help assessments: one row per ``social_care`` row of kind ``early_help``.

    There is no national early help return; the fields are proposed, coded as the CIN
    census codes need (:func:`need_codes`).
    """
    return _episodes("early_help", rows, who, rng)


def ssda903_header(who: pd.DataFrame) -> pd.DataFrame:
    """The SSDA903 header: one row per LA record with an episode of care.

    ``Forename`` and ``Surname`` are local fields, not in the DfE return.
    """
    return frame(
        COLUMNS["ssda903_header"],
        {
            "CHILD": who["record_id"],
            "SEX": [GENDER.get(s, "") for s in who["sex"]],
            "DOB": dates(who["dob"], DATE_903),
            "ETHNIC": who["dfe_ethnicity"],
            "UPN": who["upn"],
            "Forename": who["forename"],
            "Surname": who["surname"],
        },
    )


def ssda903_episodes(
    rows: pd.DataFrame, who: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """SSDA903 episodes: one row per ``social_care`` row of kind ``cla``.

    Each is written as the start of a period of care (RNE ``S``). SSDA903's ``CIN`` is a
    category of need with no factor, so a factor category is written as its primary need
    (domestic abuse as N1, child mental health as N5, extra-familial harm as N6), and
    reading it back gives that need instead.
    """
    need, _ = need_codes(rows["category"], rng)
    n = len(rows)
    return frame(
        COLUMNS["ssda903_episodes"],
        {
            "CHILD": who["record_id"],
            "DECOM": dates(rows["start"], DATE_903),
            "DEC": dates(rows["end"], DATE_903),
            "RNE": np.full(n, "S", dtype=object),
            "LS": pick(LEGAL_STATUS, n, rng),
            "CIN": need,
            "PL": pick(PLACEMENT, n, rng),
            "HOME_POST": who["postcode"],
        },
    )


def social_care_files(
    rows: pd.DataFrame, records: pd.DataFrame, who: pd.DataFrame, rng: np.random.Generator
) -> dict[str, pd.DataFrame]:
    """All social care files, from the ``social_care`` rows and each row's record.

    Parameters
    ----------
    rows : pd.DataFrame
        The contract's ``social_care`` rows.
    records : pd.DataFrame
        The LA's identity frame: every record it holds.
    who : pd.DataFrame
        For each row of ``rows``, the record it was given.
    rng : numpy.random.Generator

    Returns
    -------
    dict of str to pd.DataFrame
        The files of :data:`COLUMNS`.
    """
    rows = rows.reset_index(drop=True)
    kind = rows["kind"].to_numpy(dtype=object)
    unknown = sorted(set(kind) - {"cin", "cp", "early_help", "cla"})
    if unknown:
        raise ValueError(f"no social care file for kind {unknown}")

    def part(k: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        at = np.flatnonzero(kind == k)
        return rows.iloc[at].reset_index(drop=True), who.iloc[at].reset_index(drop=True)

    cla_rows, cla_who = part("cla")
    in_care = records[records["record_id"].isin(set(cla_who["record_id"]))]
    return {
        "cin_children": cin_children(records),
        "cin_episodes": cin_episodes(*part("cin"), rng),
        "child_protection_plans": child_protection_plans(*part("cp"), rng),
        "early_help": early_help(*part("early_help"), rng),
        "ssda903_header": ssda903_header(in_care.reset_index(drop=True)),
        "ssda903_episodes": ssda903_episodes(cla_rows, cla_who, rng),
    }
