"""Prompts issued and practitioners' judgements on a real database (SQLite and PostgreSQL)."""

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from access.data_protection import subject_access
from access.records import InvalidJudgementError, UnknownPromptError
from access.schema import judgements
from access.store import Store

PROMPT = {
    "child_id": "C42",
    "advisory": "This prompt is advisory: it starts a conversation and decides nothing.",
    "probability": {"estimate": 0.18, "low": 0.12, "high": 0.25},
    "reasons": [{"phrase": "3 suspensions in the last 12 months", "direction": "raising concern"}],
}


def test_a_prompt_is_stored_as_issued_and_read_back(store: Store):
    issued = store.record_prompt(
        child_id="C42",
        key_name="asha.school",
        purpose="planning an early help conversation",
        model_versions={"serious_violence": 4, "exclusion_neet": 2},
        prompt=PROMPT,
    )
    assert str(uuid.UUID(issued.prompt_id)) == issued.prompt_id
    found = store.get_prompt(issued.prompt_id)
    assert found.prompt == PROMPT
    assert (found.child_id, found.key_name, found.purpose) == (
        "C42",
        "asha.school",
        "planning an early help conversation",
    )
    assert found.model_versions == "exclusion_neet=2,serious_violence=4"
    assert found.issued_at == issued.issued_at and found.issued_at.tzinfo == UTC
    assert found.judgements == ()


def test_judgements_are_recorded_on_their_prompt(store: Store):
    prompt_id = store.record_prompt(child_id="C7", key_name="bo", prompt=PROMPT).prompt_id
    other = store.record_prompt(child_id="C8", key_name="bo", prompt=PROMPT).prompt_id
    store.record_judgement(prompt_id, "disagree", key_name="bo", note="known to the family team")
    store.record_judgement(prompt_id, "agree", key_name="bo", note="after the meeting")
    found = store.get_prompt(prompt_id)
    assert [(j.view, j.key_name, j.note) for j in found.judgements] == [
        ("disagree", "bo", "known to the family team"),
        ("agree", "bo", "after the meeting"),
    ]
    assert store.get_prompt(other).judgements == ()


def test_only_the_key_a_prompt_was_issued_to_may_judge_it(store: Store):
    prompt_id = store.record_prompt(child_id="C7", key_name="bo", prompt=PROMPT).prompt_id
    with pytest.raises(UnknownPromptError, match="was issued to this key") as foreign:
        store.record_judgement(prompt_id, "agree", key_name="cara")
    with pytest.raises(UnknownPromptError) as unknown:
        store.record_judgement(str(uuid.uuid4()), "agree", key_name="cara")
    assert str(foreign.value) == str(unknown.value).replace(
        unknown.value.args[0].split("'")[1], prompt_id
    ), "another key's prompt gets the answer an unknown id gets"
    assert store.get_prompt(prompt_id).judgements == ()


@pytest.mark.parametrize("view", ["maybe", "AGREE", "", "yes"])
def test_a_judgement_must_be_agree_or_disagree(store: Store, view: str):
    prompt_id = store.record_prompt(child_id="C7", key_name="bo", prompt=PROMPT).prompt_id
    with pytest.raises(InvalidJudgementError, match="'agree' or 'disagree'"):
        store.record_judgement(prompt_id, view, key_name="bo")
    assert store.get_prompt(prompt_id).judgements == ()


def test_an_overlong_note_is_refused_with_the_limit(store: Store):
    prompt_id = store.record_prompt(child_id="C7", key_name="bo", prompt=PROMPT).prompt_id
    with pytest.raises(InvalidJudgementError, match="4,000"):
        store.record_judgement(prompt_id, "agree", key_name="bo", note="x" * 4001)


@pytest.mark.parametrize(
    "prompt_id",
    [str(uuid.uuid5(uuid.NAMESPACE_URL, "lantern-test-unknown-prompt")), "not-a-uuid", ""],
    ids=["unknown-uuid", "not-a-uuid", "empty"],
)
def test_unknown_prompts_raise_a_clear_error(store: Store, prompt_id: str):
    store.record_prompt(child_id="C7", key_name="bo", prompt=PROMPT)
    with pytest.raises(UnknownPromptError, match="no prompt has id"):
        store.get_prompt(prompt_id)
    with pytest.raises(UnknownPromptError, match="was issued to this key"):
        store.record_judgement(prompt_id, "agree", key_name="bo")
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(judgements)).scalar() == 0


def test_the_database_itself_refuses_a_judgement_on_no_prompt_or_with_another_view(
    store: Store,
):
    prompt_id = store.record_prompt(child_id="C7", key_name="bo", prompt=PROMPT).prompt_id
    now = datetime.now(UTC)
    for bad in (
        {"prompt_id": str(uuid.uuid4()), "view": "agree"},
        {"prompt_id": prompt_id, "view": "unsure"},
    ):
        with pytest.raises(IntegrityError), store.engine.begin() as conn:
            conn.execute(judgements.insert().values(**bad, key_name="bo", at=now))


def test_subject_access_holds_only_that_childs_prompts_and_audit_rows(store: Store):
    mine = store.record_prompt(child_id="C1", key_name="bo", prompt=PROMPT, purpose="review")
    store.record_prompt(child_id="C2", key_name="bo", prompt=PROMPT)
    store.record_judgement(mine.prompt_id, "agree", key_name="bo", note="seen at school")
    store.log_command("subject-access", child_id="C1", purpose="SAR")
    store.log_command("subject-access", child_id="C2", purpose="SAR")
    held = subject_access(store, "C1")
    assert [p["prompt_id"] for p in held["prompts"]] == [mine.prompt_id]
    assert held["prompts"][0]["judgements"][0]["note"] == "seen at school"
    assert [r["child_id"] for r in held["audit_rows"]] == ["C1"]
    assert held["prompts"][0]["issued_at"] == mine.issued_at.isoformat()
    with store.engine.connect() as conn:  # the same child, read straight from the table
        assert (
            conn.execute(text("SELECT count(*) FROM prompts WHERE child_id = 'C1'")).scalar() == 1
        )
