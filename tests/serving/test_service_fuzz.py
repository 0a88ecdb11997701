"""Schemathesis fuzzes the service's OpenAPI spec (``/docs.json``): no request gets a 5xx.

Every operation the spec lists is fuzzed with requests that fit its schema (positive) and,
where it takes input, requests that break it (negative), each sent with the key of a role that
may call it, so they reach the endpoint instead of stopping at the door (the spec itself is
fetched with an analyst's key: only the health probes, metrics and page files are public).
Operations that look up a child, a model, a prompt or a feature are fuzzed again with real
ones mixed into the generated requests, so the fuzzing reaches the models and the
explanations rather than ending at a 404.

Schemathesis 4.32's pytest loader (``schemathesis.pytest.from_fixture``) fails on pytest 9
(it sets ``Function._nodeid``, which pytest 9 no longer has), so each operation's strategy
(``APIOperation.as_strategy``) is driven by Hypothesis directly. Examples are derandomised:
the same requests every run, so a failure reproduces.
"""

from __future__ import annotations

import json
from collections import Counter

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from service_fixtures import MODELS

from serving.permissions import PERMISSIONS, is_public

EXAMPLES = 14
"""Hypothesis examples per operation and mode (fewer for ``/reload``, which reloads models,
and the overview page, which renders every champion's report)."""

TAKES_INPUT = {
    ("POST", "/prompt"),
    ("POST", "/prompt_from_record"),
    ("POST", "/cohort"),
    ("POST", "/judgement"),
    ("POST", "/audit_log"),
    ("POST", "/reload"),
    ("GET", "/model_card"),
}
OPERATIONS = sorted(
    TAKES_INPUT
    | {("GET", p) for p in ("/livez", "/readyz", "/healthz", "/metrics", "/ui/overview")}
)
"""What the spec publishes (checked below): ``(method, path)``."""

CASES = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
    for method, path in OPERATIONS
    for mode in GenerationMode
    if mode is GenerationMode.POSITIVE or (method, path) in TAKES_INPUT
]


def role_for(path: str) -> str:
    """A role that may call ``path``: the analyst where allowed, else the first allowed."""
    roles = PERMISSIONS.get(path)
    if roles is None or "analyst" in roles:
        return "analyst"
    return sorted(roles)[0]


@pytest.fixture(scope="module")
def api(live_service):
    """The service's spec, loaded over HTTP with an analyst's key."""
    schema = schemathesis.openapi.from_url(
        f"{live_service.url}/docs.json", headers=live_service.headers("analyst"), timeout=60
    )
    schema.config.update(base_url=live_service.url)
    return schema


def fuzz(
    live_service, strategy, path: str, examples: int, fix=None, encoding: str = "json"
) -> Counter:
    """Send ``examples`` generated requests; fail on any 5xx or any answer without its
    audit row. Returns the statuses seen.

    ``encoding`` ``form`` or ``multipart`` sends each generated body's fields as a form
    instead (nested values as JSON text), as a client that ignores the spec would.
    """
    headers = live_service.headers(role_for(path))
    seen: Counter = Counter()
    answered: list[str] = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(generated=strategy)
    def run(generated):
        case, real = generated if fix else (generated, None)
        if fix and isinstance(case.body, dict):
            case.body = fix(case.body, real)
        if encoding == "json":
            response = case.call(headers=headers, timeout=120)
        else:
            fields = {
                k: v if isinstance(v, str) else json.dumps(v)
                for k, v in (case.body if isinstance(case.body, dict) else {}).items()
            } or {"x": ""}  # a form always has a field: an empty one would send no body
            body = (
                {"data": fields}
                if encoding == "form"
                else {"files": {k: (None, v) for k, v in fields.items()}}
            )
            response = httpx.request(
                case.method, f"{live_service.url}{case.path}", headers=headers, timeout=120, **body
            )
        seen[response.status_code] += 1
        request_id = response.headers.get("x-request-id", "")  # schemathesis: a list
        answered.append(request_id[0] if isinstance(request_id, list) else request_id)
        assert response.status_code < 500, (response.status_code, response.text[:300])

    run()
    if is_public(path):
        return seen
    logged = {r["request_id"] for r in live_service.audit_rows()}
    unlogged = [r for r in answered if r not in logged]
    assert not unlogged, f"{len(unlogged)} of {len(answered)} answers have no audit row"
    return seen


def test_the_spec_publishes_every_endpoint(api):
    published = {
        (method.upper(), path)
        for path, item in api.raw_schema["paths"].items()
        for method in item
        if method in ("get", "post")
    }
    assert published == set(OPERATIONS)


@pytest.mark.parametrize("encoding", ["form", "multipart"])
@pytest.mark.parametrize(("method", "path"), sorted(p for p in TAKES_INPUT if p[0] == "POST"))
def test_form_and_multipart_bodies_are_refused_audited_never_a_server_error(
    api, live_service, method, path, encoding
):
    strategy = api[path][method].as_strategy(GenerationMode.POSITIVE)
    seen = fuzz(live_service, strategy, path, 5, encoding=encoding)
    assert set(seen) == {415}, dict(seen)


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_no_generated_request_gets_a_server_error(api, live_service, method, path, mode):
    examples = {"/reload": 3, "/ui/overview": 5}.get(path, EXAMPLES)
    seen = fuzz(live_service, api[path][method].as_strategy(mode), path, examples)
    assert not seen.keys() & {401, 403}, f"the fuzzing stopped at the door: {dict(seen)}"


@pytest.fixture(scope="module")
def real(live_service, service_home) -> dict:
    """Real ids and names to mix into generated requests."""
    import httpx

    headers = live_service.headers("practitioner")
    with httpx.Client(base_url=live_service.url, timeout=60) as client:
        prompt = client.post(  # to the key that judges it: only that key may
            "/prompt",
            json={"child_id": service_home.child_ids[0], "purpose": "fuzzing the judgement"},
            headers=live_service.headers(role_for("/judgement")),
        ).json()
        cards = client.get("/model_card", headers=headers).json()
    return {
        "children": service_home.child_ids[:200],
        "prompt_id": prompt["prompt_id"],
        "features": sorted({f["name"] for m in cards.values() for f in m["card"]["features"]}),
    }


def feature_values():
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=10**300, max_value=10**400),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=8),
    )


REAL = {
    "/prompt": lambda r: (
        st.sampled_from(r["children"]),
        lambda body, child: body | {"child_id": child},
    ),
    "/cohort": lambda r: (
        st.sampled_from(MODELS),
        lambda body, model: body | {"model": model},
    ),
    "/judgement": lambda r: (
        st.just(r["prompt_id"]),
        lambda body, prompt_id: body | {"prompt_id": prompt_id},
    ),
    "/prompt_from_record": lambda r: (
        st.dictionaries(st.sampled_from(r["features"]), feature_values(), max_size=6),
        lambda body, record: body | {"record": record},
    ),
}


@pytest.mark.parametrize("path", sorted(REAL))
def test_requests_about_real_children_models_and_prompts_get_no_server_error(
    api, live_service, real, path
):
    values, fix = REAL[path](real)
    strategy = st.tuples(api[path]["POST"].as_strategy(GenerationMode.POSITIVE), values)
    seen = fuzz(live_service, strategy, path, EXAMPLES, fix=fix)
    assert seen[200] > 0, f"no generated request was answered: {dict(seen)}"
