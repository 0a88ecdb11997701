"""The data contract as pandera schemas: one per raw extract table.

Each column carries ``metadata`` read by the loader and the doc generator:

- ``description``: what the column records, in plain English;
- ``protected``: a protected characteristic, kept for auditing only and never a model feature;
- ``sensitive``: usable as a feature only where a feature set's config justifies it in writing;
- ``kind``: how the value is written in a file and held in memory (see :data:`KINDS`).

The schemas describe the tables *in memory*, after loading: ids and categories are ``str``, dates
``datetime64[ns]``, flags ``bool``, counts ``int64`` and amounts ``float64``. Checks that need
another table or today's date (ids known in ``children``, dates not before birth nor after today,
ages) live in :mod:`features.contract.validation`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

from features.contract import vocabulary as vocab

REQUIRED_TABLES: tuple[str, ...] = (
    "children",
    "school_census",
    "exclusions",
    "social_care",
    "police",
    "health",
    "youth_justice",
    "education_status",
)
"""Tables every set of extracts must contain."""

OPTIONAL_TABLES: tuple[str, ...] = ("relationships",)
"""Tables a set of extracts may leave out."""

TABLES: tuple[str, ...] = REQUIRED_TABLES + OPTIONAL_TABLES
"""Every table of the contract, in the order they are loaded, checked and documented."""


@dataclass(frozen=True)
class Kind:
    """How one kind of column is written in a file and held in memory."""

    dtype: str
    file_format: str
    memory: str


KINDS: dict[str, Kind] = {
    "text": Kind("str", "text", "str"),
    "category": Kind("str", "text, one of the allowed values", "str"),
    "date": Kind("datetime64[ns]", "date `YYYY-MM-DD`", "datetime64[ns]"),
    "month": Kind("datetime64[ns]", "month `YYYY-MM`", "datetime64[ns]"),
    "bool": Kind("bool", "`true` / `false`", "bool"),
    "count": Kind("int64", "whole number", "int64"),
    "number": Kind("float64", "number", "float64"),
}
"""Column kinds: pandera dtype, how the value is written in a file, and its in-memory type."""


@dataclass(frozen=True)
class Rule:
    """A named check beyond type, nullability and allowed values.

    Parameters
    ----------
    name : str
        Identifier, also the pandera check's ``name`` and ``error``.
    column : str
        The column a failing row is reported against.
    description : str
        The rule as written in the contract's documentation.
    message : str
        What is wrong with a row that fails it.
    action : str
        What the data owner should do about it.
    """

    name: str
    column: str
    description: str
    message: str
    action: str


RULES: dict[str, Rule] = {}
"""Every named rule in :data:`SCHEMAS`, by name."""


def _check(rule: Rule, fn) -> pa.Check:
    RULES[rule.name] = rule
    return pa.Check(fn, name=rule.name, error=rule.name, description=rule.description)


def _rowwise(columns: tuple[str, ...], fn, *, skip_empty: bool = True):
    """Wrap a row-wise test so that missing columns pass, and rows with an empty cell in one
    of `columns` pass unless `skip_empty` is False (emptiness is judged by nullability)."""

    def check(df: pd.DataFrame) -> pd.Series | bool:
        if not set(columns) <= set(df.columns):
            return True
        passed = fn(df).fillna(True).astype(bool)
        if skip_empty:
            passed |= df[list(columns)].isna().any(axis=1)
        return passed

    return check


def _column(
    kind: str,
    description: str,
    *checks: pa.Check,
    nullable: bool = False,
    unique: bool = False,
    protected: bool = False,
    sensitive: bool = False,
) -> pa.Column:
    return pa.Column(
        KINDS[kind].dtype,
        checks=list(checks),
        nullable=nullable,
        unique=unique,
        report_duplicates="all",
        description=description,
        metadata={
            "description": description,
            "protected": protected,
            "sensitive": sensitive,
            "kind": kind,
        },
    )


def _category(values: tuple[str, ...], description: str, **flags: bool) -> pa.Column:
    return _column("category", description, pa.Check.isin(list(values)), **flags)


def _text(description: str, **flags: bool) -> pa.Column:
    return _column("text", description, pa.Check.str_length(min_value=1), **flags)


def _child_id() -> pa.Column:
    return _text("Pseudonymised id of the child; must be a child_id in `children`.")


def _count(description: str, *checks: pa.Check) -> pa.Column:
    return _column("count", description, pa.Check.ge(0), *checks)


def _flag(description: str) -> pa.Column:
    return _column("bool", description)


_FIRST_OF_MONTH = _check(
    Rule(
        name="first_of_month",
        column="month",
        description="the first day of a month",
        message="dates that are not the first day of a month",
        action="Give each monthly record the first day of its month, e.g. 2024-03-01.",
    ),
    lambda s: s.dt.day == 1,
)

_MISSED_LE_POSSIBLE = _check(
    Rule(
        name="missed_within_possible",
        column="sessions_missed",
        description="`sessions_missed` <= `sessions_possible`",
        message="more sessions missed than were possible",
        action="Check the attendance figures: sessions_missed cannot exceed sessions_possible.",
    ),
    _rowwise(
        ("sessions_missed", "sessions_possible"),
        lambda d: d["sessions_missed"] <= d["sessions_possible"],
    ),
)

_UNAUTHORISED_LE_MISSED = _check(
    Rule(
        name="unauthorised_within_missed",
        column="sessions_unauthorised",
        description="`sessions_unauthorised` <= `sessions_missed`",
        message="more unauthorised absences than sessions missed",
        action="Check the attendance figures: unauthorised absences are part of the sessions "
        "missed, so sessions_unauthorised cannot exceed sessions_missed.",
    ),
    _rowwise(
        ("sessions_unauthorised", "sessions_missed"),
        lambda d: d["sessions_unauthorised"] <= d["sessions_missed"],
    ),
)

_DAYS_FOR_SUSPENSION = _check(
    Rule(
        name="days_for_suspension",
        column="days",
        description="required when `kind` is `suspension`",
        message="suspensions with no number of days",
        action="Give the length of every suspension in days; only a permanent exclusion may "
        "leave days empty.",
    ),
    _rowwise(
        ("days", "kind"),
        lambda d: ~((d["kind"] == "suspension") & d["days"].isna()),
        skip_empty=False,
    ),
)

_END_AFTER_START = _check(
    Rule(
        name="end_not_before_start",
        column="end",
        description="not before `start`",
        message="episodes that end before they start",
        action="Check start and end of these episodes; end must be on or after start "
        "(leave end empty while an episode is open).",
    ),
    _rowwise(("start", "end"), lambda d: d["end"] >= d["start"]),
)

_NOT_SELF = _check(
    Rule(
        name="not_linked_to_self",
        column="related_child_id",
        description="not the row's own `child_id`",
        message="children linked to themselves",
        action="Remove these rows: a relationship links two different children.",
    ),
    _rowwise(("child_id", "related_child_id"), lambda d: d["child_id"] != d["related_child_id"]),
)


SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "children": pa.DataFrameSchema(
        {
            "child_id": _column(
                "text",
                "Pseudonymised id linking the child's records across agencies.",
                pa.Check.str_length(min_value=1),
                unique=True,
            ),
            "birth_month": _column(
                "month", "Month of birth (the day is not held); loaded as its first day."
            ),
            "sex": _category(vocab.SEX, "Sex as recorded by schools.", protected=True),
            "ethnicity": _category(
                vocab.ETHNICITY,
                "DfE major ethnic group; Unknown includes refused.",
                protected=True,
            ),
            "area": _text("LSOA or ward code of the child's home."),
        },
        name="children",
        description="One row per child known to any agency in the partnership: the spine that "
        "every other table links to by child_id.",
    ),
    "school_census": pa.DataFrameSchema(
        {
            "child_id": _child_id(),
            "term_start": _column("date", "Census date at the start of the term."),
            "school_id": _text("The school's id (e.g. URN)."),
            "fsm_eligible": _flag("Eligible for free school meals on the census date."),
            "sen_status": _category(
                vocab.SEN_STATUS,
                "Special educational needs on the census date: none, SEN support or EHCP.",
                sensitive=True,
            ),
            "sessions_possible": _count("Half-day sessions possible in the term just ended."),
            "sessions_missed": _count(
                "Sessions missed (authorised or not) in the term just ended."
            ),
            "sessions_unauthorised": _count(
                "Sessions missed without authorisation in the term just ended."
            ),
            "on_roll": _flag("On a school roll on the census date."),
            "alternative_provision": _flag("In alternative provision on the census date."),
            "elective_home_education": _flag("Electively home educated on the census date."),
        },
        checks=[_MISSED_LE_POSSIBLE, _UNAUTHORISED_LE_MISSED],
        unique=["child_id", "term_start"],
        report_duplicates="all",
        name="school_census",
        description="Termly school census: one row per child per census date, recording the "
        "child's status on that date and the attendance of the term just ended, as the DfE "
        "census does.",
    ),
    "exclusions": pa.DataFrameSchema(
        {
            "child_id": _child_id(),
            "date": _column("date", "Date the exclusion started."),
            "kind": _category(vocab.EXCLUSION_KIND, "Suspension (fixed period) or permanent."),
            "days": _column(
                "number",
                "Length in school days; may be empty for a permanent exclusion.",
                pa.Check.ge(0),
                nullable=True,
            ),
            "reason": _category(vocab.EXCLUSION_REASON, "Main reason (reduced DfE codes)."),
        },
        checks=[_DAYS_FOR_SUSPENSION],
        name="exclusions",
        description="One row per suspension or permanent exclusion from school.",
    ),
    "social_care": pa.DataFrameSchema(
        {
            "child_id": _child_id(),
            "kind": _category(
                vocab.SOCIAL_CARE_KIND,
                "Early help, child in need, child protection plan or child looked after.",
            ),
            "start": _column("date", "Date the episode started."),
            "end": _column(
                "date", "Date the episode ended; empty while it is open.", nullable=True
            ),
            "category": _category(
                vocab.SOCIAL_CARE_CATEGORY, "Category of need or main factor at assessment."
            ),
        },
        checks=[_END_AFTER_START],
        name="social_care",
        description="One row per episode of early help or children's social care.",
    ),
    "police": pa.DataFrameSchema(
        {
            "child_id": _child_id(),
            "date": _column("date", "Date of the incident or encounter."),
            "role": _category(vocab.POLICE_ROLE, "The child's role in the record."),
            "offence_group": _category(
                vocab.OFFENCE_GROUP,
                "Home Office offence group; none for missing-person reports and searches "
                "finding nothing.",
            ),
            "serious_violence": _flag("Flagged as serious violence."),
            "knife": _flag("A knife or sharp instrument was involved."),
        },
        name="police",
        description="One row per police record naming the child: victim, suspect, missing "
        "person or stop and search.",
    ),
    "health": pa.DataFrameSchema(
        {
            "child_id": _child_id(),
            "date": _column("date", "Date of the attendance or referral."),
            "setting": _category(vocab.HEALTH_SETTING, "Emergency department or CAMHS referral."),
            "assault_related": _flag("The attendance was assault-related."),
        },
        name="health",
        description="One row per emergency department attendance or CAMHS referral.",
    ),
    "youth_justice": pa.DataFrameSchema(
        {
            "child_id": _child_id(),
            "date": _column("date", "Date of the outcome."),
            "outcome": _category(vocab.YOUTH_JUSTICE_OUTCOME, "The youth justice outcome."),
        },
        name="youth_justice",
        description="One row per youth justice outcome.",
    ),
    "education_status": pa.DataFrameSchema(
        {
            "child_id": _child_id(),
            "month": _column("date", "The month recorded, as its first day.", _FIRST_OF_MONTH),
            "activity": _category(
                vocab.ACTIVITY, "In education, employment or training, NEET, or not known."
            ),
        },
        name="education_status",
        description="CCIS monthly activity of young people aged 16-17: one row per young "
        "person per month recorded.",
    ),
    "relationships": pa.DataFrameSchema(
        {
            "child_id": _child_id(),
            "related_child_id": _column(
                "text",
                "The other child; must be a child_id in `children`.",
                pa.Check.str_length(min_value=1),
            ),
            "relationship": _category(vocab.RELATIONSHIP, "Sibling or peer."),
        },
        checks=[_NOT_SELF],
        name="relationships",
        description="Optional. Sibling and peer links between children, one row per direction "
        "(a link between A and B is two rows).",
    ),
}
"""The pandera schema of every table, by name, in :data:`TABLES` order."""


def column_kind(table: str, column: str) -> str:
    """Return the kind of a contract column (a key of :data:`KINDS`)."""
    return SCHEMAS[table].columns[column].metadata["kind"]


def date_columns(table: str) -> list[str]:
    """Return the names of the date and month columns of a table, in schema order."""
    return [
        name
        for name, col in SCHEMAS[table].columns.items()
        if col.metadata["kind"] in ("date", "month")
    ]
