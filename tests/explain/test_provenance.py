"""The note a prompt shows of how confidently the child's records were linked."""

from explain import wording
from explain.provenance import LOWER_CONFIDENCE, linkage_note


def test_the_least_confident_agency_is_named_below_the_bar():
    note = linkage_note([("school", 1.0), ("police", 0.93), ("health", 0.995)])
    assert note["agencies"] == ["health", "police", "school"]
    assert note["lowest"] == {"agency": "police", "confidence": 0.93}
    assert note["sentences"] == [
        "These records were linked from health, police and school.",
        "The police record was linked to this child with lower confidence (93%): check it is "
        "this child's before relying on it.",
    ]


def test_records_linked_confidently_say_so_and_one_agency_says_only_where_from():
    confident = linkage_note([("social_care", LOWER_CONFIDENCE), ("careers", 1.0)])
    assert confident["lowest"] is None
    assert confident["sentences"] == [
        "These records were linked from careers service and children's social care.",
        wording.LINKED_CONFIDENT,
    ]
    alone = linkage_note([("school", 0.999)])
    assert alone["sentences"] == ["These records were linked from school."]
