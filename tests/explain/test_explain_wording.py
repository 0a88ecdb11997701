"""Fixed wording: label-free, blame-free, and saying what the design promises."""

from __future__ import annotations

import pytest

from explain import wording
from explain.prompt import outcome_title
from explain.wording import BANNED_PHRASES, find_banned, templates
from features.registry import SOURCES


@pytest.mark.parametrize("phrase", BANNED_PHRASES)
def test_find_banned_finds_every_phrase_in_any_case_and_plural(phrase):
    assert find_banned(f"Notes say {phrase.upper()} here.") == [phrase]
    assert phrase in find_banned(f"notes mention {phrase}s twice")


@pytest.mark.parametrize(
    "text",
    [
        "Walked along the gangway to the ferry.",
        "A subjective view from the school.",
        "Recorded by the police as a suspect of a serious violence offence.",
        "Criminology lectures at the college.",
        "Children who need support.",
    ],
)
def test_find_banned_matches_whole_words_only(text):
    assert find_banned(text) == []


def test_find_banned_matches_phrases_across_line_breaks():
    assert find_banned("said he is putting\nthemselves at risk") == ["putting themselves at risk"]


def test_the_templates_include_every_fixed_sentence():
    found = templates()
    for name in ("ADVISORY_NOTICE", "JUDGEMENT_INVITATION", "RAISES_CONCERN", "PROTECTIVE"):
        assert found[name] == getattr(wording, name)
    assert "BAND_MEANING" in found and "RANK_MEANING" in found
    assert any(name.startswith("MISSING_RECORD[") for name in found)


def test_every_template_is_free_of_banned_phrases():
    dirty = {name: find_banned(text) for name, text in templates().items() if find_banned(text)}
    assert not dirty


def test_every_registry_description_is_free_of_banned_phrases(explain_registry):
    dirty = {
        name: find_banned(spec.description)
        for name, spec in explain_registry.items()
        if find_banned(spec.description)
    }
    assert not dirty


def test_every_outcome_title_is_free_of_banned_phrases(explain_outcomes):
    for name, outcome in explain_outcomes.items():
        assert find_banned(outcome_title(outcome)) == [], name


def test_the_notice_says_advisory_and_decides_nothing():
    notice = wording.ADVISORY_NOTICE.lower()
    assert "advisory only" in notice
    assert "decides nothing" in notice
    assert "professional conversation" in notice


def test_the_invitation_asks_for_the_practitioners_own_judgement():
    invitation = wording.JUDGEMENT_INVITATION.lower()
    assert "record your own professional judgement" in invitation


def test_every_source_has_a_missing_record_sentence_saying_unknown():
    assert set(SOURCES) <= set(wording.MISSING_RECORD)
    for source, sentence in wording.MISSING_RECORD.items():
        assert "unknown" in sentence, source
    assert "not the same as no concern" in wording.MISSING_SOME
