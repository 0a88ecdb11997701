"""Every fixed sentence and template a practitioner reads in a prompt, in one place.

The words describe records and what agencies can offer, never the child: no labels, no blame.
:data:`BANNED_PHRASES` lists words Lantern never uses about children; :func:`find_banned` finds
them in any text, and the tests run it over every template here, every feature description,
every outcome title and every generated prompt.
"""

from __future__ import annotations

import re

ADVISORY_NOTICE = (
    "This prompt is advisory only. It is a starting point for a professional conversation "
    "about what support might help this child, and it decides nothing. It is drawn from "
    "agency records, which can be incomplete or out of date and can reflect how often some "
    "children are recorded rather than what has happened to them. It cannot see what you "
    "know about the child and their family."
)

JUDGEMENT_INVITATION = (
    "Please record your own professional judgement: what you know about the child, whether "
    "this prompt matches it, and what support, if any, you will offer. Your judgement, not "
    "this prompt, guides what happens next."
)

RAISES_CONCERN = "raises concern"
"""Direction of a record that raises the estimated likelihood."""

PROTECTIVE = "protective"
"""Direction of a record that lowers the estimated likelihood."""

AGE_CONTEXT = "Aged {age}"
AGE_POSSIBLE = "{labels} {verb} possible at this age"
AGE_NOT_POSSIBLE = "{labels} {verb} not"
CONTEXT_NOTE = (
    "Shown as context, not as a reason: the estimate is made for children of this age, and "
    "age is not something a record says about the child."
)
"""Age in a prompt: who the outcome can happen to ("Aged 16: NEET is possible at this age;
permanent exclusion is not"), never a finding about the child."""

REASON_SENTENCE = "{description}: {value}"
"""A reason: the feature's registry description and its value, as a practitioner reads it."""

UNRECORDED_EFFECT = (
    "{description}: not recorded. The gap {verb} the estimate ({share} of the total weight); "
    "unknown is not the same as no concern."
)
UNRECORDED_RAISED = "raised"
UNRECORDED_LOWERED = "lowered"
"""A record the model reads that is missing for the child, and how far its absence moved the
estimate: listed under what the records do not show, never as a reason."""

LEVERS = {
    "attendance": "attendance back at 95%",
    "suspensions": "no suspensions in the last 12 months",
    "neet": "the young person in education, employment or training",
    "missing": "no missing episodes in the last 12 months",
}
"""Each actionable change (a registry ``lever``) as the records would show it."""

CHANGE_SENTENCE = "If the records showed {lever}: {new} rather than {old}"
CHANGE_SAME = "If the records showed {lever}: still {new}"
CHANGE_NOTE = (
    "What the model estimates for the same record with that one part at a typical level. It "
    "compares records; it is not a promise that changing one thing would change what happens."
)
"""What would change: the model's estimate on the record with one actionable part moved to
its typical level, worded as what the records would show, never as a promise of cause."""

NONE_ON_RECORD = "none on record"
"""The value of a "time since" feature when the event has never been recorded."""

BAND_LOWEST = "under 1 in {n}"
BAND_BETWEEN = "1 in {low} to 1 in {high}"
BAND_HIGHEST = "over 1 in {n}"
"""Band names, from the band edges written as "1 in N"."""

BAND_MEANING = "{frequency} children with a similar record had this outcome within {months} months"
FREQUENCY_ONE_IN = "about 1 in {n:,}"
FREQUENCY_TENTHS = "about {k} in 10"
FREQUENCY_RARE = "fewer than 1 in {n:,}"
FREQUENCY_MOST = "more than 9 in 10"
"""How often an outcome followed a similar record, in words a person reads at a glance."""

TITLE_WINDOW = "{description} (within {months} months)"
"""An outcome title whose description does not already state its window."""

RANK_MEANING = (
    "{higher:,} of the {size:,} children in the partnership's records on {date} {verb} a "
    "higher estimated likelihood ({percent}). This compares records; it does not measure need."
)
RANK_MEANING_TOP = (
    "None of the {size:,} children in the partnership's records on {date} has a higher "
    "estimated likelihood. This compares records; it does not measure need."
)

AGENCY_SUMMARY = "Where the picture comes from: {parts}."
AGENCY_PART = "{agency} {share} ({direction})"
AGENCY_SUMMARY_NONE = (
    "Where the picture comes from: no agency's records move the estimate far from the "
    "partnership's average."
)

MISSING_RECORD = {
    "school_census": (
        "No school census record at this date: attendance and school details are unknown, "
        "not reassuring."
    ),
    "exclusions": (
        "No exclusions record at this date: suspensions and exclusions are unknown, not reassuring."
    ),
    "social_care": (
        "No children's social care record at this date: help from social care is unknown, "
        "not reassuring."
    ),
    "police": (
        "No police record at this date: missing episodes and police contacts are unknown, "
        "not reassuring."
    ),
    "health": (
        "No health record at this date: emergency department visits and mental health "
        "referrals are unknown, not reassuring."
    ),
    "youth_justice": (
        "No youth justice record at this date: youth justice outcomes are unknown, not reassuring."
    ),
    "education_status": (
        "No careers service record at this date: whether the young person is in education, "
        "employment or training is unknown, not reassuring."
    ),
    "relationships": (
        "No sibling or peer links are held: what the child's family and friends are going "
        "through is unknown, not reassuring."
    ),
    "area": (
        "No neighbourhood figures at this date: the picture of the neighbourhood is unknown, "
        "not reassuring."
    ),
    "children": "The partnership's record does not give the child's age at this date: it is unknown.",
}
"""When a source's record is absent altogether: what is unknown, and that unknown is not
reassuring. Keyed by the registry's source names."""

MISSING_RECORD_OTHER = "No {agency} record at this date: these details are unknown, not reassuring."
"""A source with no sentence of its own in :data:`MISSING_RECORD`."""

MISSING_SOME = (
    "Not known from {agency} records at this date: {items}. Unknown is not the same as no concern."
)
"""When only some of a source's details are missing."""

BANNED_PHRASES = (
    "gang",
    "offender",
    "perpetrator",
    "subject",
    "chooses to",
    "choosing to",
    "choose to",
    "putting themselves at risk",
    "put themselves at risk",
    "lifestyle",
    "streetwise",
    "promiscuous",
    "risky behaviour",
    "risky behavior",
    "criminal",
    "criminality",
    "troubled",
    "feral",
)
"""Words and phrases that label or blame children; Lantern's text never uses them."""

_BANNED_PATTERNS = tuple(
    (
        phrase,
        re.compile(
            r"\b" + r"\s+".join(map(re.escape, phrase.split())) + r"(?:s|es)?\b", re.IGNORECASE
        ),
    )
    for phrase in BANNED_PHRASES
)


def find_banned(text: str) -> list[str]:
    """The banned phrases in ``text`` (whole words, any case, plural too).

    Parameters
    ----------
    text : str
        Any text a practitioner may read.

    Returns
    -------
    list of str
        Each banned phrase found, as listed in :data:`BANNED_PHRASES`; empty when clean.
    """
    return [phrase for phrase, pattern in _BANNED_PATTERNS if pattern.search(text)]


def templates() -> dict[str, str]:
    """Every fixed sentence and template in this module, by name (for checks and reviews)."""
    found: dict[str, str] = {}
    for name, value in globals().items():
        if name.startswith("_") or name == "BANNED_PHRASES":
            continue
        if isinstance(value, str):
            found[name] = value
        elif isinstance(value, dict):
            found.update({f"{name}[{key}]": text for key, text in value.items()})
    return found


AGENCY_NAMES = {
    "school": "school",
    "social_care": "children's social care",
    "police": "police",
    "health": "health",
    "youth_justice": "youth justice",
    "careers": "careers service",
}
"""Each agency as a practitioner names it (the raw extracts' folder names)."""

LINKED_FROM = "These records were linked from {agencies}."
LINKED_LOWER = (
    "The {agency} record was linked to this child with lower confidence ({confidence}): "
    "check it is this child's before relying on it."
)
LINKED_CONFIDENT = "Each agency's record was linked to this child with high confidence."
"""How confidently the records behind a prompt were linked (``lantern link``): a wrong link
puts another child's records behind a prompt."""
