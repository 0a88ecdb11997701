"""What only the partnership can say about its use of Lantern: owners, contacts, assessments.

The transparency record and the datasheet take these facts from a YAML file the partnership
keeps (``partnership.yaml``; ``governance/partnership.example.yaml`` shows every field). A
field left out is shown in the documents as not supplied, with what to add and where; Lantern
never fills it in.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_FILE = "partnership.yaml"
"""Read from the working directory when no file is given, if it is there."""

EXAMPLE_FILE = Path(__file__).with_name("partnership.example.yaml")

NOT_SUPPLIED = "Not supplied by the partnership"
"""How every document starts a field the partnership has not supplied."""

Phase = Literal["pre-deployment", "beta/pilot", "production", "retired"]
"""The ATRS phases of a tool's life."""


class PartnershipSettings(BaseModel):
    """Facts about the partnership's use of Lantern; every one optional.

    Each field's description says what to write; documents quote it when the field is
    missing. Dates are ISO dates (``2025-01-31``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(None, description="the partnership's name")
    website: str | None = Field(
        None, description="a public web page about the partnership's use of Lantern"
    )
    owner_organisation: str | None = Field(
        None, description="the organisation accountable for using Lantern"
    )
    owner_team: str | None = Field(None, description="the team that runs Lantern day to day")
    owner_role: str | None = Field(
        None, description="the role accountable for Lantern within the owner organisation"
    )
    senior_responsible_owner: str | None = Field(
        None, description="the senior responsible owner's role title"
    )
    contact_email: str | None = Field(
        None, description="an email address where the public can ask about Lantern"
    )
    third_party_involvement: str | None = Field(
        None,
        description="who else built, hosts or supports Lantern for the partnership, and their "
        "access to the data (or 'none')",
    )
    phase: Phase | None = Field(
        None, description="the tool's phase: pre-deployment, beta/pilot, production or retired"
    )
    previous_process: str | None = Field(
        None,
        description="how children who may need support were identified before Lantern "
        "(e.g. a checklist or referrals only)",
    )
    frequency_and_scale: str | None = Field(
        None, description="how often prompts and cohort lists are used, by how many teams"
    )
    required_training: str | None = Field(
        None, description="the training practitioners complete before they read prompts"
    )
    complaints_route: str | None = Field(
        None,
        description="how a child, family or practitioner can question a prompt or complain",
    )
    dpia_reference: str | None = Field(
        None, description="the reference of the data protection impact assessment (DPIA)"
    )
    dpia_date: date | None = Field(None, description="the date the DPIA was completed")
    equality_impact_assessment_reference: str | None = Field(
        None, description="the reference of the equality impact assessment"
    )
    equality_impact_assessment_date: date | None = Field(
        None, description="the date the equality impact assessment was completed"
    )
    data_sharing_agreement_reference: str | None = Field(
        None, description="the reference of the agencies' data sharing agreement"
    )
    lawful_basis: str | None = Field(
        None,
        description="the lawful basis for processing (UK GDPR Article 6, and Article 9 "
        "conditions for special category data)",
    )
    retention_summary: str | None = Field(
        None, description="how long extracts, features, models and audit logs are kept"
    )
    data_access_and_storage: str | None = Field(
        None, description="where the data and models are stored and who can access them"
    )

    @field_validator("contact_email")
    @classmethod
    def _looks_like_email(cls, value: str | None) -> str | None:
        if value is not None and ("@" not in value or " " in value.strip()):
            raise ValueError(f"{value!r} is not an email address; write e.g. team@example.org")
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_missing(cls, value):
        return None if isinstance(value, str) and not value.strip() else value


def not_supplied(field: str) -> str:
    """The text shown for a field the partnership has not supplied.

    Parameters
    ----------
    field : str
        A field of :class:`PartnershipSettings`.

    Returns
    -------
    str
        ``"Not supplied by the partnership: add <field> (<what it is>) to partnership.yaml
        ..."``.
    """
    what = PartnershipSettings.model_fields[field].description
    return (
        f"{NOT_SUPPLIED}: add `{field}` ({what}) to the partnership file "
        f"({DEFAULT_FILE}, or the file given with --partnership; "
        f"see governance/{EXAMPLE_FILE.name})"
    )


def supplied(partnership: PartnershipSettings, field: str) -> str:
    """The field's value as text, or :func:`not_supplied` when it is missing."""
    value = getattr(partnership, field)
    return not_supplied(field) if value is None else str(value)


def load_partnership(path: Path | str | None = None) -> PartnershipSettings:
    """Read the partnership's settings from YAML.

    Parameters
    ----------
    path : path-like, optional
        The file. Without one, ``partnership.yaml`` in the working directory is read if it
        is there; otherwise every field is not supplied.

    Returns
    -------
    PartnershipSettings

    Raises
    ------
    FileNotFoundError
        If ``path`` is given and does not exist.
    ValueError
        If the file is not a YAML mapping of known fields with valid values; the message
        names the file and the fields.
    """
    if path is None:
        default = Path.cwd() / DEFAULT_FILE
        if not default.is_file():
            return PartnershipSettings()
        path = default
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"partnership file {path} does not exist; copy governance/{EXAMPLE_FILE.name} "
            "and fill in what the partnership can say"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ValueError(f"partnership file {path} is not valid YAML: {err}") from None
    if data is None:
        return PartnershipSettings()
    if not isinstance(data, dict):
        raise ValueError(
            f"partnership file {path} must be a mapping of fields (name: ..., contact_email: "
            f"...), not a {type(data).__name__}; see governance/{EXAMPLE_FILE.name}"
        )
    try:
        return PartnershipSettings.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}" for e in err.errors()
        )
        raise ValueError(
            f"partnership file {path} has invalid fields: {problems}. "
            f"The fields are listed in governance/{EXAMPLE_FILE.name}"
        ) from None
