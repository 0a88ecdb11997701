"""Where a prompt's records came from: which agencies, and how confidently they were linked.

The service reads, per child, the lowest confidence of each agency's records
(``confidence.parquet``, written by ``lantern link`` beside its crosswalk); this module turns
one child's rows into the note a prompt shows. It reads no crosswalk.
"""

from __future__ import annotations

from collections.abc import Sequence

from explain import wording

LOWER_CONFIDENCE = 0.99
"""A record linked with a confidence below this is named in the prompt."""


def linkage_note(agencies: Sequence[tuple[str, float]]) -> dict:
    """The linkage note of one child's prompt.

    Parameters
    ----------
    agencies : sequence of (str, float)
        Each agency holding records of the child, and the lowest confidence with which one of
        its records was linked to the child.

    Returns
    -------
    dict
        ``agencies`` (names as practitioners use them), ``lowest`` (``agency``,
        ``confidence``) or None, and ``sentences``.
    """
    rows = sorted(agencies, key=lambda a: a[1])
    names = [wording.AGENCY_NAMES.get(a, a.replace("_", " ")) for a, _ in rows]
    listed = sorted(names)
    text = listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]
    sentences = [wording.LINKED_FROM.format(agencies=text)]
    lowest = None
    if rows and rows[0][1] < LOWER_CONFIDENCE:
        lowest = {"agency": names[0], "confidence": round(float(rows[0][1]), 4)}
        sentences.append(
            wording.LINKED_LOWER.format(agency=names[0], confidence=f"{rows[0][1]:.0%}")
        )
    elif len(rows) > 1:
        sentences.append(wording.LINKED_CONFIDENT)
    return {"agencies": listed, "lowest": lowest, "sentences": sentences}
