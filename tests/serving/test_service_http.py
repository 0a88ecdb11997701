"""The real service over HTTP (``bentoml serve`` on a small promoted partnership).

Every endpoint, every role against every endpoint, every refusal and bad input, the prompt's
content end to end, and the audit row each request leaves. Driven with plain ``httpx`` and
with BentoML's own ``SyncHTTPClient``, which sends its ``token`` as ``Authorization: Bearer``
(the header Lantern's middleware reads).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from http import HTTPStatus

import bentoml
import httpx
import pytest
from bentoml.exceptions import BentoMLException
from service_fixtures import MODELS, ROLES, champions

from access.config import StoreSettings
from access.data_protection import subject_access
from access.records import format_model_versions, parse_model_versions
from access.store import Store
from explain import wording
from serving.permissions import PERMISSIONS, PUBLIC_PATHS

PURPOSE = "team around the child meeting"
UNKNOWN_CHILD = "C0000000"
TIMEOUT = 120

# A valid request to each protected endpoint, so an allowed role gets a 200.
REQUESTS = {
    "/prompt": ("POST", lambda c: {"json": {"child_id": c["child"], "purpose": PURPOSE}}),
    "/prompt_from_record": ("POST", lambda c: {"json": {"record": {}, "purpose": PURPOSE}}),
    "/judgement": (
        "POST",
        lambda c: {
            "json": {"prompt_id": c["prompt_ids"].get(c["role"], ""), "view": "agree", "note": "x"}
        },
    ),
    "/cohort": (
        "POST",
        lambda c: {"json": {"model": "serious_violence", "capacity": 3, "purpose": PURPOSE}},
    ),
    "/reload": ("POST", lambda c: {"json": {}}),
    "/audit_log": ("POST", lambda c: {"json": {"since": c["today"], "limit": 3}}),
    "/model_card": ("GET", lambda c: {}),
    "/ui/overview": ("GET", lambda c: {}),
    "/metrics": ("GET", lambda c: {}),
}
PUBLIC = ["/livez", "/readyz", "/healthz", "/ui/"]


@pytest.fixture(scope="module")
def client(live_service) -> httpx.Client:
    with httpx.Client(base_url=live_service.url, timeout=TIMEOUT) as http:
        yield http


@pytest.fixture(scope="module")
def store(service_home):
    store = Store(StoreSettings(url=service_home.database_url))
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(scope="module")
def child(service_home) -> str:
    return service_home.child_ids[len(service_home.child_ids) // 2]


@pytest.fixture(scope="module")
def context(client, live_service, child) -> dict:
    """What the valid requests need: a child in the snapshot and a prompt issued about them
    to each role that may ask for one (only the key a prompt went to may judge it)."""
    prompt_ids = {}
    for role in PERMISSIONS["/prompt"]:
        answer = client.post(
            "/prompt",
            json={"child_id": child, "purpose": PURPOSE},
            headers=live_service.headers(role),
        )
        assert answer.status_code == 200, answer.text
        prompt_ids[role] = answer.json()["prompt_id"]
    return {
        "child": child,
        "prompt_id": prompt_ids["practitioner"],
        "prompt_ids": prompt_ids,
        "today": f"{datetime.now(UTC):%Y-%m-%d}",
    }


def call(client, path, headers, context, role=None):
    method, make = REQUESTS[path]
    return client.request(method, path, headers=headers, **make(context | {"role": role}))


def last_audit_id(live_service) -> int:
    rows = live_service.audit_rows()
    return rows[-1]["id"] if rows else 0


def new_rows(live_service, after: int) -> list[dict]:
    return [r for r in live_service.audit_rows() if r["id"] > after]


def problem_fields(response: httpx.Response) -> list[str]:
    """The fields a 400 names: the service's own ``problems``, or the validator's ``loc``."""
    body = response.json()
    if "problems" in body:
        return [p["field"] for p in body["problems"]]
    return [".".join(map(str, d["loc"])) for d in body["detail"]]


def bare_probabilities(data) -> list[str]:
    """Where in ``data`` a ``probability`` is not beside the ``band`` that holds it."""
    bad = []

    def walk(node, path):
        if isinstance(node, dict):
            if "probability" in node:
                band = node.get("band")
                if not (
                    isinstance(band, dict) and band["low"] <= node["probability"] <= band["high"]
                ):
                    bad.append(path)
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    walk(data, "$")
    return bad


def test_every_protected_endpoint_has_a_request_here():
    assert set(REQUESTS) == set(PERMISSIONS)


# --------------------------------------------------------------------------- roles


@pytest.mark.parametrize(("path", "role"), [(path, role) for path in PERMISSIONS for role in ROLES])
def test_each_role_may_call_only_what_the_permission_map_allows(
    client, live_service, context, path, role
):
    response = call(client, path, live_service.headers(role), context, role)
    if role in PERMISSIONS[path]:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 403, response.text
        body = response.json()
        assert body["error"] == "not permitted"
        assert f"the {role} role may not call {path}" in body["detail"]
        for allowed in PERMISSIONS[path]:
            assert allowed in body["detail"]
        assert "Ask your Lantern administrator" in body["detail"]


@pytest.mark.parametrize("path", PUBLIC)
def test_public_paths_answer_without_a_key_and_leave_no_audit_row(client, live_service, path):
    before = last_audit_id(live_service)
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert new_rows(live_service, before) == []
    if path == "/ui/":
        assert "<title>Lantern" in response.text


def test_the_public_list_is_what_this_module_checks():
    assert {p.rstrip("/") for p in PUBLIC} == set(PUBLIC_PATHS)


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize("path", list(PERMISSIONS))
def test_no_key_is_401_saying_how_to_send_one(client, context, path):
    response = call(client, path, {}, context)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["error"] == "missing API key"
    assert "Authorization header as 'Bearer <key>'" in body["detail"]


@pytest.mark.parametrize(
    "token",
    ["not-a-key", "lantern_000000000000_" + "A" * 43],
    ids=["malformed", "never-issued"],
)
def test_an_unknown_key_is_401(client, context, token):
    response = call(client, "/prompt", {"Authorization": f"Bearer {token}"}, context)
    assert response.status_code == 401
    assert response.json()["error"] == "unknown API key"
    assert "ask your Lantern administrator for a new one" in response.json()["detail"]


def test_a_revoked_key_is_401_and_a_new_key_works_at_once(client, context, store):
    name = f"revoked-{uuid.uuid4().hex[:8]}"
    revoked = store.create_key(name, "practitioner").token
    store.revoke_key(name)
    response = call(client, "/prompt", {"Authorization": f"Bearer {revoked}"}, context)
    assert response.status_code == 401
    assert response.json()["error"] == "revoked API key"

    fresh = store.create_key(f"fresh-{uuid.uuid4().hex[:8]}", "practitioner").token
    response = call(client, "/prompt", {"X-API-Key": fresh}, context)
    assert response.status_code == 200, response.text


# --------------------------------------------------------------------------- bad input


def test_the_real_service_sends_the_security_headers(client, live_service, child):
    page = client.get("/ui/")
    prompt = client.post(
        "/prompt",
        json={"child_id": child, "purpose": PURPOSE},
        headers=live_service.headers("practitioner"),
    )
    assert (page.status_code, prompt.status_code) == (200, 200)
    for answer in (page, prompt):
        assert "default-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
    assert prompt.headers["cache-control"] == "no-store"


def test_bad_json_is_400(client, live_service):
    response = client.post(
        "/prompt",
        content=b'{"child_id": "C1", "purpose": ',
        headers=live_service.headers("practitioner") | {"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert "Invalid JSON" in response.text


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"purpose": "formtest"}},
        {"files": {"purpose": (None, "formtest")}},
    ],
    ids=["form", "multipart"],
)
def test_a_form_body_is_refused_not_answered_with_other_words(
    client, live_service, child, store, body
):
    # The reported hole: the query says one thing and the form body another; BentoML would
    # answer the form while the audit row recorded the query.
    response = client.post(
        f"/prompt?child_id={child}&purpose=routine",
        headers=live_service.headers("practitioner"),
        **body,
    )
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]
    row = next(r for r in store.audit_rows() if r.request_id == response.headers["x-request-id"])
    assert (row.status, row.outcome) == (415, "refused")
    assert not any(p["purpose"] == "formtest" for p in subject_access(store, child)["prompts"])


@pytest.mark.parametrize("purpose", [None, "", "   "], ids=["missing", "empty", "blank"])
@pytest.mark.parametrize("path", ["/prompt", "/prompt_from_record"])
def test_a_prompt_needs_a_purpose(client, live_service, context, path, purpose):
    body = REQUESTS[path][1](context)["json"]
    if purpose is None:
        del body["purpose"]
    else:
        body["purpose"] = purpose
    response = client.post(path, json=body, headers=live_service.headers("practitioner"))
    assert response.status_code == 400
    assert problem_fields(response) == ["purpose"]
    if purpose is None:
        assert response.json()["detail"][0]["msg"] == "Field required"


def test_an_unknown_child_is_404_naming_the_child_and_what_to_do(client, live_service):
    response = client.post(
        "/prompt",
        json={"child_id": UNKNOWN_CHILD, "purpose": PURPOSE},
        headers=live_service.headers("practitioner"),
    )
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "unknown child"
    assert repr(UNKNOWN_CHILD) in body["detail"]
    assert "check the pseudonymised id" in body["detail"]
    assert "/prompt_from_record" in body["detail"]


@pytest.mark.parametrize("capacity", [0, -3, 10**9], ids=["zero", "negative", "huge"])
def test_a_capacity_out_of_range_is_400_naming_it(client, live_service, capacity):
    response = client.post(
        "/cohort",
        json={"model": "serious_violence", "capacity": capacity, "purpose": PURPOSE},
        headers=live_service.headers("analyst"),
    )
    assert response.status_code == 400
    assert problem_fields(response) == ["capacity"]


def test_a_capacity_over_the_team_capacity_is_400_saying_the_limit(client, live_service):
    response = client.post(
        "/cohort",
        json={"model": "serious_violence", "capacity": 201, "purpose": PURPOSE},
        headers=live_service.headers("analyst"),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid capacity"
    assert "team capacity of 200 children" in response.json()["detail"]


def test_a_cohort_without_a_purpose_is_400_naming_it(client, live_service):
    response = client.post(
        "/cohort",
        json={"model": "serious_violence", "capacity": 3},
        headers=live_service.headers("analyst"),
    )
    assert response.status_code == 400
    assert problem_fields(response) == ["purpose"]


def test_an_unknown_model_is_404_listing_the_models(client, live_service):
    response = client.post(
        "/cohort",
        json={"model": "truancy", "capacity": 3, "purpose": PURPOSE},
        headers=live_service.headers("analyst"),
    )
    assert response.status_code == 404
    assert all(name in response.json()["detail"] for name in MODELS)


@pytest.fixture(scope="module")
def card_features(client, live_service) -> dict[str, str]:
    """Feature name -> unit, for the features the served models read (from their cards)."""
    cards = client.get("/model_card", headers=live_service.headers("auditor")).json()
    return {f["name"]: f["unit"] for m in cards.values() for f in m["card"]["features"]}


def test_a_record_with_bad_values_is_400_naming_every_field(client, live_service, card_features):
    rate = next(name for name, unit in card_features.items() if unit == "rate")
    count = next(name for name, unit in card_features.items() if unit == "count")
    record = {rate: 1.7, count: -1, "ethnicity": "White British"}
    response = client.post(
        "/prompt_from_record",
        json={"record": record, "purpose": PURPOSE},
        headers=live_service.headers("practitioner"),
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid record"
    assert sorted(problem_fields(response)) == sorted(record)
    problems = {p["field"]: p for p in body["problems"]}
    assert "a rate is a share from 0 to 1" in problems[rate]["problem"]
    assert "a count is a whole number of 0 or more" in problems[count]["problem"]
    assert "protected characteristic" in problems["ethnicity"]["problem"]
    for field in record:
        assert repr(field) in body["detail"]


def test_a_record_with_a_number_too_large_for_a_float_is_400_not_500(
    client, live_service, card_features
):
    count = next(name for name, unit in card_features.items() if unit == "count")
    response = client.post(
        "/prompt_from_record",
        content=f'{{"record": {{"{count}": 1{"0" * 400}}}, "purpose": "{PURPOSE}"}}'.encode(),
        headers=live_service.headers("practitioner") | {"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert problem_fields(response) == [count]


def test_an_empty_record_is_a_prompt_listing_every_source_as_missing(client, live_service):
    response = client.post(
        "/prompt_from_record",
        json={"record": {}, "purpose": PURPOSE, "child_id": "ext-42"},
        headers=live_service.headers("practitioner"),
    )
    assert response.status_code == 200, response.text
    prompt = response.json()
    assert prompt["child_id"] == "ext-42"
    for section in prompt["models"]:
        assert section["missing"], section["model"]


def test_a_judgement_on_an_unknown_prompt_is_404(client, live_service):
    prompt_id = str(uuid.uuid4())
    response = client.post(
        "/judgement",
        json={"prompt_id": prompt_id, "view": "agree"},
        headers=live_service.headers("practitioner"),
    )
    assert response.status_code == 404
    assert response.json()["error"] == "unknown prompt"
    assert prompt_id in response.json()["detail"]


@pytest.mark.parametrize("view", ["maybe", "", "AGREE"])
def test_a_judgement_must_be_agree_or_disagree(client, live_service, context, view):
    response = client.post(
        "/judgement",
        json={"prompt_id": context["prompt_id"], "view": view},
        headers=live_service.headers("practitioner"),
    )
    assert response.status_code == 400
    assert problem_fields(response) == ["view"]


def test_a_judgement_is_stored_with_the_prompt(client, live_service, context, store):
    note = f"spoke with the school on {uuid.uuid4().hex[:6]}"
    response = client.post(
        "/judgement",
        json={"prompt_id": context["prompt_id"], "view": "disagree", "note": note},
        headers=live_service.headers("practitioner"),
    )
    assert response.status_code == 200, response.text
    stored = store.get_prompt(context["prompt_id"])
    assert (stored.judgements[-1].view, stored.judgements[-1].note) == ("disagree", note)
    assert stored.judgements[-1].key_name == "test-practitioner"


def test_a_purpose_with_a_lone_surrogate_is_refused_and_logged(client, live_service, child):
    before = last_audit_id(live_service)
    response = client.post(
        "/prompt",
        content=f'{{"child_id": "{child}", "purpose": "meeting \\ud800"}}'.encode(),
        headers=live_service.headers("practitioner") | {"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert len(new_rows(live_service, before)) == 1


# --------------------------------------------------------------------------- the prompt


@pytest.fixture(scope="module")
def child_with_a_record(client, live_service) -> str:
    """A child high on the cohort list with reasons on both sides."""
    for model in MODELS:
        cohort = client.post(
            "/cohort",
            json={"model": model, "capacity": 25, "purpose": PURPOSE},
            headers=live_service.headers("analyst"),
        ).json()
        for entry in cohort["children"]:
            if entry["reasons"] and entry["protective"]:
                return entry["child_id"]
    pytest.fail("no child in either cohort's top 25 has reasons on both sides")


def test_a_prompt_carries_every_model_its_bands_reasons_and_the_advisory_notice(
    client, live_service, service_home, child_with_a_record, store
):
    response = client.post(
        "/prompt",
        json={"child_id": child_with_a_record, "purpose": PURPOSE},
        headers=live_service.headers("practitioner"),
    )
    assert response.status_code == 200, response.text
    prompt = response.json()
    serving = champions(service_home)

    assert parse_model_versions(response.headers["x-lantern-model-versions"]) == serving
    assert prompt["child_id"] == child_with_a_record
    assert prompt["purpose"] == PURPOSE
    assert prompt["snapshot_date"] == service_home.snapshot_date
    assert prompt["advisory_notice"] == wording.ADVISORY_NOTICE
    assert prompt["judgement_invitation"] == wording.JUDGEMENT_INVITATION
    assert {m["model"]: m["version"] for m in prompt["models"]} == serving
    assert bare_probabilities(prompt) == []
    for section in prompt["models"]:
        assert section["band"]["meaning"] and section["rank"]["meaning"]
        assert 1 <= section["rank"]["position"] <= section["rank"]["cohort_size"]
    assert any(m["reasons"] and m["protective"] for m in prompt["models"])
    for section in prompt["models"]:
        for reason in section["reasons"] + section["protective"]:
            assert reason["sentence"] and reason["agency"]
        assert {r["direction"] for r in section["reasons"]} <= {wording.RAISES_CONCERN}
        assert {r["direction"] for r in section["protective"]} <= {wording.PROTECTIVE}

    readable = json.dumps({k: v for k, v in prompt.items() if k != "purpose"})
    assert wording.find_banned(readable) == []

    stored = store.get_prompt(prompt["prompt_id"])
    assert stored.model_versions == format_model_versions(serving)
    assert (stored.child_id, stored.purpose) == (child_with_a_record, PURPOSE)


def test_a_cohort_list_has_no_probability_without_its_band(client, live_service):
    response = client.post(
        "/cohort",
        json={"model": "exclusion_neet", "capacity": 10, "purpose": PURPOSE},
        headers=live_service.headers("analyst"),
    )
    assert response.status_code == 200, response.text
    cohort = response.json()
    assert len(cohort["children"]) == 10
    assert cohort["advisory_notice"] == wording.ADVISORY_NOTICE
    assert bare_probabilities(cohort) == []
    scores = [c["probability"] for c in cohort["children"]]
    assert scores == sorted(scores, reverse=True)


def test_model_cards_name_the_version_served(client, live_service, service_home):
    response = client.get("/model_card", headers=live_service.headers("practitioner"))
    assert response.status_code == 200
    cards = response.json()
    assert {name: c["version"] for name, c in cards.items()} == champions(service_home)
    one = client.get(
        "/model_card", params={"model": "exclusion_neet"}, headers=live_service.headers("auditor")
    )
    assert list(one.json()) == ["exclusion_neet"]
    unknown = client.get(
        "/model_card", params={"model": "truancy"}, headers=live_service.headers("auditor")
    )
    assert unknown.status_code == 404
    assert "choose one of exclusion_neet, serious_violence" in unknown.json()["detail"]


# --------------------------------------------------------------------------- the audit log


def test_every_request_leaves_exactly_one_audit_row_saying_who_what_and_why(
    client, live_service, service_home, child
):
    serving = format_model_versions(champions(service_home))
    p, a, u = (live_service.headers(r) for r in ROLES)
    bad_json = p | {"content-type": "application/json"}

    def ask(child_id):
        return {"json": {"child_id": child_id, "purpose": PURPOSE}}

    nobody = UNKNOWN_CHILD
    no_purpose = {"json": {"child_id": child}}
    not_json = {"content": b"{nope"}
    cohort = {"json": {"model": "serious_violence", "capacity": 2, "purpose": PURPOSE}}
    record = {"json": {"record": {}, "purpose": PURPOSE, "child_id": "ext-7"}}
    since = {"json": {"since": "2020-01-01", "limit": 1}}
    # method, path, headers, request; the row expected: role, child_id, purpose, status, outcome
    steps = [
        ("POST", "/prompt", p, ask(child), ("practitioner", child, PURPOSE, 200, "allowed")),
        ("POST", "/prompt", p, ask(nobody), ("practitioner", nobody, PURPOSE, 404, "error")),
        ("POST", "/prompt", {}, ask(child), (None, child, PURPOSE, 401, "refused")),
        ("POST", "/prompt", u, ask(child), ("auditor", child, PURPOSE, 403, "refused")),
        ("POST", "/prompt", p, no_purpose, ("practitioner", child, None, 400, "error")),
        ("POST", "/prompt", bad_json, not_json, ("practitioner", None, None, 400, "error")),
        ("POST", "/prompt_from_record", a, record, ("analyst", "ext-7", PURPOSE, 200, "allowed")),
        ("POST", "/cohort", a, cohort, ("analyst", None, PURPOSE, 200, "allowed")),
        ("POST", "/cohort", p, cohort, ("practitioner", None, PURPOSE, 403, "refused")),
        ("GET", "/model_card", u, {}, ("auditor", None, None, 200, "allowed")),
        ("POST", "/audit_log", u, since, ("auditor", None, None, 200, "allowed")),
        ("GET", "/livez", {}, {}, None),
    ]
    before = last_audit_id(live_service)
    answers = [client.request(m, path, headers=h, **kw) for m, path, h, kw, _ in steps]
    rows = new_rows(live_service, before)

    logged = [(step, answer) for step, answer in zip(steps, answers, strict=True) if step[-1]]
    assert len(rows) == len(logged)
    for row, ((_, path, _, _, expected), response) in zip(rows, logged, strict=True):
        role, child_id, purpose, status, outcome = expected
        assert response.status_code == status, (path, response.text)
        assert row["request_id"] == response.headers["x-request-id"]
        assert (row["endpoint"], row["role"], row["child_id"], row["purpose"]) == (
            path,
            role,
            child_id,
            purpose,
        )
        assert (row["status"], row["outcome"]) == (status, outcome)
        assert row["key_name"] == (f"test-{role}" if role else None)
        assert row["model_versions"] == response.headers.get("x-lantern-model-versions")
        if path.startswith("/prompt") and status == 200:
            assert row["model_versions"] == serving


def test_the_audit_log_endpoint_returns_a_childs_rows(client, live_service, context):
    child = context["child"]
    asked = client.post(
        "/prompt",
        json={"child_id": child, "purpose": "early help review"},
        headers=live_service.headers("practitioner"),
    )
    response = client.post(
        "/audit_log",
        json={"since": context["today"], "child_id": child},
        headers=live_service.headers("auditor"),
    )
    assert response.status_code == 200
    rows = response.json()["rows"]
    assert response.json()["count"] == len(rows) > 0
    assert {r["child_id"] for r in rows} == {child}
    assert asked.headers["x-request-id"] in {r["request_id"] for r in rows}


# --------------------------------------------------------------------------- BentoML's client


def test_bentoml_sync_client_sends_its_token_as_our_bearer_key(live_service, context):
    child = context["child"]
    keys = live_service.home.keys
    with bentoml.SyncHTTPClient(live_service.url, token=keys["practitioner"]) as practitioner:
        prompt = practitioner.prompt(child_id=child, purpose=PURPOSE)
        assert prompt["child_id"] == child
        assert {m["model"] for m in prompt["models"]} == set(MODELS)
        with pytest.raises(BentoMLException) as refused:
            practitioner.cohort(model="serious_violence", capacity=3, purpose=PURPOSE)
        assert refused.value.error_code == HTTPStatus.FORBIDDEN
        assert "not permitted" in str(refused.value)
        with pytest.raises(BentoMLException) as unknown:
            practitioner.prompt(child_id=UNKNOWN_CHILD, purpose=PURPOSE)
        assert unknown.value.error_code == HTTPStatus.NOT_FOUND
    with bentoml.SyncHTTPClient(live_service.url, token=keys["auditor"]) as auditor:
        log = auditor.audit_log(since=context["today"], child_id=child)
        assert {r["child_id"] for r in log["rows"]} == {child}


def test_bentoml_sync_client_cannot_even_start_without_a_key(live_service, monkeypatch):
    monkeypatch.delenv("BENTO_CLOUD_API_KEY", raising=False)
    with pytest.raises(BentoMLException, match="Failed to fetch schema"):
        bentoml.SyncHTTPClient(live_service.url)
