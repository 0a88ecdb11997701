"""The auth + audit middleware around a small Starlette app, on a real database.

Requests go through ``httpx.ASGITransport``, and once through a real uvicorn server.
"""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path

import anyio
import httpx
import pytest
import uvicorn
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from store_fixtures import call, call_many

from access.config import StoreSettings
from access.roles import Role
from access.store import Store
from serving.asgi import (
    MAX_DEPTH,
    SECURITY_HEADERS,
    request_fields,
    token_from_headers,
    too_deep,
)
from serving.middleware import MODEL_VERSIONS_HEADER, AuditMiddleware
from serving.permissions import PERMISSIONS, authorise, is_public

ENDPOINTS = [
    ("POST", "/prompt"),
    ("POST", "/prompt_from_record"),
    ("POST", "/judgement"),
    ("POST", "/cohort"),
    ("POST", "/reload"),
    ("GET", "/ui/overview"),
    ("GET", "/audit_log"),
    ("GET", "/model_card"),
    ("GET", "/metrics"),
]

# Who may call what, as the issue states it (not read from the code under test).
ALLOWED = {
    Role.practitioner: {"/prompt", "/prompt_from_record", "/judgement", "/model_card"},
    Role.analyst: {
        "/prompt",
        "/prompt_from_record",
        "/judgement",
        "/model_card",
        "/cohort",
        "/reload",
        "/ui/overview",
        "/metrics",
    },
    Role.auditor: {"/audit_log", "/model_card", "/ui/overview", "/metrics"},
}

TEST_PERMISSIONS = {
    **PERMISSIONS,
    "/judgement_missing": frozenset({Role.analyst}),
    "/boom": frozenset({Role.analyst}),
    "/stream": frozenset({Role.auditor}),
}
"""The real map, and the test app's extra routes (deny by default would refuse them)."""

BODY = {"child_id": "C314", "purpose": "early help planning meeting"}
PATIENCE = 60
"""Seconds to wait for the real server to start or answer (a bound, not a claim)."""


async def echo(request: Request) -> JSONResponse:
    """Answers with what it was sent and who sent it, naming the model behind it."""
    body = await request.body()
    key = request.state.lantern_key
    return JSONResponse(
        {
            "body": body.decode(),
            "key": key.name,
            "role": key.role,
            "request_id": request.state.lantern_request_id,
        },
        headers={MODEL_VERSIONS_HEADER: "exclusion_neet=3,serious_violence=2"},
    )


async def not_found(request: Request) -> JSONResponse:
    return JSONResponse({"error": "no prompt"}, status_code=404)


async def boom(request: Request) -> JSONResponse:
    raise RuntimeError("the model is not loaded")


async def stream(request: Request) -> StreamingResponse:
    async def chunks():
        for i in range(5):
            yield f"part {i}\n".encode()

    return StreamingResponse(chunks(), media_type="text/plain")


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def make_app(static: Path) -> Starlette:
    routes = [Route(path, echo, methods=[method]) for method, path in ENDPOINTS]
    routes += [
        Route("/judgement_missing", not_found, methods=["POST"]),
        Route("/boom", boom, methods=["POST"]),
        Route("/stream", stream, methods=["GET"]),
        *(Route(p, health) for p in ("/livez", "/readyz", "/healthz")),
        Mount("/ui", StaticFiles(directory=static, html=True)),
    ]
    return Starlette(routes=routes)


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "ui"
    folder.mkdir()
    (folder / "index.html").write_text("<html><body>Lantern</body></html>")
    (folder / "app.js").write_text("console.log('lantern');")
    return folder


@pytest.fixture
def mw_store(sqlite_url: str) -> Store:
    store = Store(StoreSettings(url=sqlite_url, max_body_bytes=4096))
    yield store
    store.close()


@pytest.fixture
def app(mw_store: Store, static_dir: Path) -> AuditMiddleware:
    return AuditMiddleware(make_app(static_dir), store=mw_store, permissions=TEST_PERMISSIONS)


@pytest.fixture
def tokens(mw_store: Store) -> dict[Role, str]:
    return {role: mw_store.create_key(f"{role.value}.one", role).token for role in Role}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def only_row(store: Store):
    rows = store.audit_rows()
    assert len(rows) == 1, rows
    return rows[0]


# --------------------------------------------------------------------------- public paths


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/healthz", "/ui/app.js", "/ui/"])
def test_public_paths_answer_without_a_key_and_are_not_logged(app, mw_store, path):
    response = call(app, "GET", path)
    assert response.status_code == 200
    assert mw_store.audit_rows() == []


def test_the_page_data_under_ui_is_not_public(app, mw_store):
    response = call(app, "GET", "/ui/overview")
    assert response.status_code == 401
    assert only_row(mw_store).endpoint == "/ui/overview"


def test_public_rule_does_not_open_paths_by_trickery():
    assert is_public("/livez") and is_public("/ui/css/page.css") and is_public("/ui")
    assert not is_public("/ui/overview") and not is_public("/ui//overview/")
    assert not is_public("/ui/../prompt") and not is_public("/livez/../prompt")
    assert not is_public("/prompt") and not is_public("/") and not is_public("/docs.json")


# --------------------------------------------------------------------------- refusals


def test_no_key_is_401_saying_how_to_send_one_and_is_logged_with_the_child(app, mw_store):
    response = call(app, "POST", "/prompt", json=BODY)
    assert response.status_code == 401
    assert response.json()["error"] == "missing API key"
    assert "Authorization" in response.json()["detail"]
    assert "Lantern administrator" in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"
    row = only_row(mw_store)
    assert (row.status, row.outcome, row.key_name, row.role) == (401, "refused", None, None)
    assert (row.child_id, row.purpose, row.method) == ("C314", BODY["purpose"], "POST")
    assert row.request_id == response.headers["x-request-id"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer lantern_000000000000_" + "A" * 43},
        {"X-API-Key": "guess"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
)
def test_an_unknown_key_is_401(app, mw_store, tokens, headers):
    response = call(app, "POST", "/prompt", json=BODY, headers=headers)
    assert response.status_code == 401
    expected = (
        "missing API key"
        if headers.get("Authorization", "").startswith("Basic")
        else ("unknown API key")
    )
    assert response.json()["error"] == expected
    assert set(response.json()) == {"error", "detail"}
    assert only_row(mw_store).outcome == "refused"


def test_a_revoked_key_is_401_and_the_row_names_the_key(app, mw_store, tokens):
    mw_store.revoke_key("practitioner.one")
    response = call(app, "POST", "/prompt", json=BODY, headers=bearer(tokens[Role.practitioner]))
    assert response.status_code == 401
    assert response.json()["error"] == "revoked API key"
    assert "new one" in response.json()["detail"]
    row = only_row(mw_store)
    assert (row.key_name, row.status, row.outcome) == ("practitioner.one", 401, "refused")


def test_an_expired_key_is_401_and_the_row_names_the_key(app, mw_store, tokens):
    from datetime import timedelta

    from sqlalchemy import update

    from access.schema import api_keys

    token = mw_store.create_key("dee.demo", Role.practitioner, expires_in=timedelta(days=1)).token
    with mw_store.engine.begin() as conn:  # a day later
        conn.execute(
            update(api_keys)
            .where(api_keys.c.name == "dee.demo")
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    response = call(app, "POST", "/prompt", json=BODY, headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["error"] == "expired API key"
    row = only_row(mw_store)
    assert (row.key_name, row.status, row.outcome) == ("dee.demo", 401, "refused")


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_each_role_may_call_exactly_its_endpoints(app, mw_store, tokens, role, method, path):
    kwargs = {"json": BODY} if method == "POST" else {"params": {"child_id": "C314"}}
    response = call(app, method, path, headers=bearer(tokens[role]), **kwargs)
    row = only_row(mw_store)
    assert (row.key_name, row.role, row.endpoint, row.child_id) == (
        f"{role.value}.one",
        role.value,
        path,
        "C314",
    )
    if path in ALLOWED[role]:
        assert response.status_code == 200, response.text
        assert response.json()["key"] == f"{role.value}.one"
        assert (row.status, row.outcome) == (200, "allowed")
    else:
        assert response.status_code == 403
        body = response.json()
        assert body["error"] == "not permitted"
        assert f"the {role.value} role may not call {path}" in body["detail"]
        assert "Lantern administrator" in body["detail"]
        assert (row.status, row.outcome) == (403, "refused")


def test_the_permission_map_is_the_issue_s():
    assert {p: {r for r in Role if p in ALLOWED[r]} for p in PERMISSIONS} == dict(PERMISSIONS)


def test_an_oversized_body_is_refused_before_the_app(app, mw_store, tokens):
    big = {"child_id": "C1", "note": "x" * 5000}
    response = call(app, "POST", "/prompt", json=big, headers=bearer(tokens[Role.analyst]))
    assert response.status_code == 413
    assert "4,096 bytes" in response.json()["detail"]
    assert only_row(mw_store).outcome == "refused"


@pytest.mark.parametrize(
    ("kind", "request_kwargs"),
    [
        ("form", {"data": {"child_id": "C2", "purpose": "formtest"}}),
        ("multipart", {"files": {"child_id": (None, "C2")}}),
        ("text", {"content": b'{"child_id": "C2"}', "headers": {"content-type": "text/plain"}}),
        ("no type", {"content": b'{"child_id": "C2"}'}),
    ],
)
def test_a_body_that_is_not_json_is_415_before_the_app_and_logged(
    app, mw_store, tokens, kind, request_kwargs
):
    headers = {**bearer(tokens[Role.practitioner]), **request_kwargs.pop("headers", {})}
    response = call(
        app,
        "POST",
        "/prompt?child_id=C1&purpose=routine",
        headers=headers,
        **request_kwargs,
    )
    assert response.status_code == 415, kind
    assert response.json()["error"] == "unsupported content type"
    assert "Content-Type: application/json" in response.json()["detail"]
    row = only_row(mw_store)
    assert (row.status, row.outcome, row.detail) == (415, "refused", "unsupported content type")
    assert row.key_name == "practitioner.one"


def test_json_with_a_charset_and_an_empty_post_reach_the_app(app, mw_store, tokens):
    headers = {**bearer(tokens[Role.analyst]), "content-type": "application/json; charset=utf-8"}
    ok = call(app, "POST", "/prompt", content=json.dumps(BODY).encode(), headers=headers)
    empty = call(app, "POST", "/reload", headers=bearer(tokens[Role.analyst]))
    assert (ok.status_code, empty.status_code) == (200, 200)
    assert [r.status for r in mw_store.audit_rows()] == [200, 200]


def test_a_deeply_nested_body_is_400_and_logged_not_a_crash(static_dir, sqlite_url, tmp_path):
    store = Store(StoreSettings(url=sqlite_url, max_body_bytes=1_048_576))
    try:
        token = store.create_key("practitioner.deep", Role.practitioner).token
        app = AuditMiddleware(make_app(static_dir), store=store)
        headers = {**bearer(token), "content-type": "application/json"}
        response = call(
            app, "POST", "/prompt?child_id=C5&purpose=x", content=b"[" * 200_000, headers=headers
        )
        assert response.status_code == 400
        assert response.json()["error"] == "request too deeply nested"
        assert f"more than {MAX_DEPTH} deep" in response.json()["detail"]
        row = only_row(store)
        assert (row.status, row.outcome, row.child_id) == (400, "refused", "C5")
    finally:
        store.close()


def test_depth_counts_brackets_outside_strings_only():
    nested = b'{"a": [1, {"b": []}]}'  # four deep
    assert not too_deep(nested, limit=4) and too_deep(nested, limit=3)
    in_a_string = b'{"note": "' + b"[" * 100 + b'", "x": [[1]]}'
    assert not too_deep(in_a_string, limit=3) and too_deep(in_a_string, limit=2)
    escaped = b'{"note": "say \\"' + b"[" * 100 + b'\\" please"}'  # an escaped quote
    assert not too_deep(escaped, limit=1)
    assert too_deep(b"[" * (MAX_DEPTH + 1)) and not too_deep(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    balanced = (b"[" * 10 + b"]" * 10) * 10  # many brackets, never deep
    assert not too_deep(balanced, limit=10) and too_deep(balanced, limit=9)


def test_every_response_carries_the_security_headers_and_private_ones_no_store(
    app, mw_store, tokens
):
    answers = {
        "public": call(app, "GET", "/ui/app.js"),
        "refused": call(app, "POST", "/prompt", json=BODY),
        "allowed": call(app, "POST", "/prompt", json=BODY, headers=bearer(tokens[Role.analyst])),
        "app error": call(
            app, "POST", "/judgement_missing", json=BODY, headers=bearer(tokens[Role.analyst])
        ),
        "415": call(app, "POST", "/prompt", data={"a": "b"}, headers=bearer(tokens[Role.analyst])),
    }
    assert [a.status_code for a in answers.values()] == [200, 401, 200, 404, 415]
    for kind, answer in answers.items():
        for name, value in SECURITY_HEADERS:
            assert answer.headers[name.decode()] == value.decode(), (kind, name)
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY"
        if kind != "public":
            assert answer.headers["cache-control"] == "no-store", kind
    assert "no-store" not in answers["public"].headers.get("cache-control", "")


# --------------------------------------------------------------------------- allowed calls


def test_an_allowed_call_reaches_the_app_unchanged_and_is_logged_before_it_returns(
    app, mw_store, tokens
):
    raw = json.dumps(BODY).encode()
    response = call(
        app,
        "POST",
        "/prompt",
        content=raw,
        headers={**bearer(tokens[Role.practitioner]), "content-type": "application/json"},
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["body"].encode() == raw
    assert (answer["key"], answer["role"]) == ("practitioner.one", "practitioner")
    assert answer["request_id"] == response.headers["x-request-id"]
    assert response.headers[MODEL_VERSIONS_HEADER] == "exclusion_neet=3,serious_violence=2"
    row = only_row(mw_store)
    assert row.request_id == answer["request_id"]
    assert row.model_versions == "exclusion_neet=3,serious_violence=2"
    assert (row.status, row.outcome, row.purpose) == (200, "allowed", BODY["purpose"])


def test_an_unknown_path_is_401_without_a_key_and_404_from_the_middleware_with_one(
    app, mw_store, tokens
):
    assert call(app, "GET", "/no/such/thing").status_code == 401
    response = call(app, "GET", "/no/such/thing", headers=bearer(tokens[Role.auditor]))
    assert response.status_code == 404
    assert response.json() == {
        "error": "no such endpoint",
        "detail": "Lantern has no endpoint /no/such/thing; the API's endpoints are listed at "
        "/docs.json",
    }
    rows = mw_store.audit_rows()
    assert [(r.status, r.outcome) for r in rows] == [(401, "refused"), (404, "refused")]


@pytest.mark.parametrize("role", list(Role))
def test_a_route_missing_from_the_permission_map_is_never_reached(
    mw_store, static_dir, tokens, role
):
    # /boom exists in the app but not in the real map: deny by default.
    app = AuditMiddleware(make_app(static_dir), store=mw_store)
    response = call(app, "POST", "/boom", json=BODY, headers=bearer(tokens[role]))
    assert response.status_code == 404 and response.json()["error"] == "no such endpoint"
    assert (only_row(mw_store).status, only_row(mw_store).outcome) == (404, "refused")


def test_bentomls_api_documentation_is_open_to_any_key():
    for path in ("/", "/docs.json", "/schema.json", "/static_content/swagger-ui.css"):
        assert all(authorise(path, role).allowed for role in Role), path
    assert authorise("/static_content/../prompt", Role.auditor).status == 404


def test_the_apps_errors_are_logged_as_errors(app, mw_store, tokens):
    response = call(
        app, "POST", "/judgement_missing", json=BODY, headers=bearer(tokens[Role.analyst])
    )
    assert response.status_code == 404
    assert (only_row(mw_store).status, only_row(mw_store).outcome) == (404, "error")


def test_an_app_that_raises_is_logged_with_its_error(app, mw_store, tokens):
    # Starlette answers 500 itself, then re-raises: the row records the 500
    with pytest.raises(RuntimeError, match="not loaded"):
        call(app, "POST", "/boom", json=BODY, headers=bearer(tokens[Role.analyst]))
    row = only_row(mw_store)
    assert (row.status, row.outcome, row.child_id) == (500, "error", "C314")


def test_a_bare_asgi_app_that_raises_before_answering_is_logged_with_the_error(mw_store, tokens):
    async def bare(scope, receive, send):
        await receive()
        raise LookupError("no champion model")

    with pytest.raises(LookupError):
        call(
            AuditMiddleware(bare, store=mw_store),
            "POST",
            "/prompt",
            json=BODY,
            headers=bearer(tokens[Role.analyst]),
        )
    row = only_row(mw_store)
    assert (row.status, row.outcome) == (500, "error")
    assert row.detail == "the service raised LookupError"


def test_a_streamed_answer_passes_whole(app, mw_store, tokens):
    response = call(app, "GET", "/stream", headers=bearer(tokens[Role.auditor]))
    assert response.text == "".join(f"part {i}\n" for i in range(5))
    assert only_row(mw_store).outcome == "allowed"


def test_child_id_is_found_in_a_wrapped_body_or_the_query_string(app, mw_store, tokens):
    wrapped = {"request": {"child_id": "C9", "purpose": "review"}}
    call(app, "POST", "/prompt", json=wrapped, headers=bearer(tokens[Role.analyst]))
    call(
        app, "GET", "/model_card", params={"child_id": "C10"}, headers=bearer(tokens[Role.auditor])
    )
    assert [(r.child_id, r.purpose) for r in mw_store.audit_rows()] == [
        ("C9", "review"),
        ("C10", None),
    ]


def test_concurrent_requests_each_get_their_own_row(app, mw_store, tokens):
    requests = [
        (
            "POST",
            "/prompt",
            {"json": {"child_id": f"C{i}"}, "headers": bearer(tokens[Role.analyst])},
        )
        for i in range(40)
    ]
    responses = call_many(app, requests)
    assert all(r.status_code == 200 for r in responses)
    rows = mw_store.audit_rows()
    assert sorted(r.child_id for r in rows) == sorted(f"C{i}" for i in range(40))
    assert {r.request_id for r in rows} == {r.headers["x-request-id"] for r in responses}


# --------------------------------------------------------------------------- no unlogged answers


def break_audit_inserts(store: Store) -> None:
    """Make every audit insert fail in the database, as a full disk or lost server would."""
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER broken BEFORE INSERT ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
            )
        )


def test_if_the_row_cannot_be_written_the_caller_gets_503_not_the_answer(app, mw_store, tokens):
    break_audit_inserts(mw_store)
    response = call(app, "POST", "/prompt", json=BODY, headers=bearer(tokens[Role.practitioner]))
    assert response.status_code == 503
    assert response.json()["error"] == "audit log unavailable"
    assert "try again" in response.json()["detail"]
    assert "C314" not in response.text and MODEL_VERSIONS_HEADER not in response.headers
    refused = call(app, "POST", "/prompt", json=BODY)
    assert refused.status_code == 503
    assert mw_store.audit_rows() == []


def test_if_the_database_is_gone_the_caller_gets_503(static_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'missing-folder' / 'x.db'}"
    store = Store(StoreSettings(url=url))
    token = store.create_key("gone.analyst", "analyst").token
    store.close()
    (tmp_path / "missing-folder" / "x.db").unlink()
    (tmp_path / "missing-folder").rmdir()
    (tmp_path / "missing-folder").write_text("a file where the folder was")
    app = AuditMiddleware(make_app(static_dir), settings=StoreSettings(url=url))
    response = call(app, "POST", "/prompt", json=BODY, headers=bearer(token))
    assert response.status_code == 503
    assert set(response.json()) == {"error", "detail"}


def test_a_caller_that_leaves_mid_body_reaches_no_app_and_gets_no_answer(mw_store, tokens):
    reached, sent = [], []
    messages = iter(
        [
            {"type": "http.request", "body": b'{"child_id": "C', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )

    async def app(scope, receive, send):
        reached.append(scope["path"])

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "path": "/prompt",
        "method": "POST",
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {tokens[Role.analyst]}".encode())],
    }
    anyio.run(AuditMiddleware(app, store=mw_store), scope, receive, send)
    assert reached == [] and sent == [] and mw_store.audit_rows() == []


def test_websockets_are_refused_and_logged(mw_store):
    sent = []

    async def app(scope, receive, send):
        raise AssertionError("the app must not be reached")

    async def receive():
        return {"type": "websocket.connect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "websocket", "path": "/prompt", "headers": [], "query_string": b""}
    anyio.run(AuditMiddleware(app, store=mw_store), scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]
    row = only_row(mw_store)
    assert (row.method, row.status, row.outcome) == ("WEBSOCKET", 403, "refused")


# --------------------------------------------------------------------------- wiring


def test_built_the_way_bentoml_builds_middleware(mw_store, static_dir, tokens):
    # BentoML: svc.add_asgi_middleware(cls, **options) -> starlette Middleware(cls, **options)
    inner = make_app(static_dir)
    app = Starlette(
        routes=[Mount("/", inner)],
        middleware=[Middleware(AuditMiddleware, settings=mw_store.settings)],
    )
    response = call(app, "POST", "/prompt", json=BODY, headers=bearer(tokens[Role.analyst]))
    assert response.status_code == 200
    assert call(app, "POST", "/prompt", json=BODY).status_code == 401
    assert [r.status for r in mw_store.audit_rows()] == [200, 401]


def test_through_a_real_server_with_a_chunked_body(app, mw_store, tokens):
    # The test binds the port itself and hands the socket over, so no other process can
    # take the port between choosing it and listening on it.
    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    try:
        # No wait for the server to start: the socket already listens, so the kernel holds
        # the client's connection until uvicorn accepts it.
        raw = json.dumps({**BODY, "padding": "y" * 2000}).encode()

        def chunks():
            for i in range(0, len(raw), 500):
                yield raw[i : i + 500]

        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=PATIENCE) as client:
            response = client.post(
                "/prompt",
                content=chunks(),
                headers={**bearer(tokens[Role.practitioner]), "content-type": "application/json"},
            )
            refused = client.get("/cohort", headers=bearer(tokens[Role.practitioner]))
            public = client.get("/livez")
    finally:
        server.should_exit = True
        thread.join(timeout=PATIENCE)
        listening.close()
    assert response.status_code == 200 and response.json()["body"].encode() == raw
    assert refused.status_code == 403 and public.status_code == 200
    rows = mw_store.audit_rows()
    assert [(r.endpoint, r.status, r.child_id) for r in rows] == [
        ("/prompt", 200, "C314"),
        ("/cohort", 403, None),
    ]


# --------------------------------------------------------------------------- pure helpers


def test_request_fields_reads_json_or_the_query_and_ignores_the_rest():
    assert request_fields(b'{"child_id": "C1", "purpose": "p"}') == {
        "child_id": "C1",
        "purpose": "p",
    }
    assert request_fields(b'{"child_id": 17}') == {"child_id": "17"}
    assert request_fields(b'{"child_id": true, "purpose": false}') == {}
    assert request_fields(b"not json", b"child_id=C2&purpose=x") == {
        "child_id": "C2",
        "purpose": "x",
    }
    assert request_fields(b"[1, 2]") == {}
    assert request_fields(b"") == {}


def test_token_from_headers_takes_bearer_or_x_api_key():
    assert token_from_headers([(b"authorization", b"Bearer abc")]) == "abc"
    assert token_from_headers([(b"Authorization", b"bearer  abc ")]) == "abc"
    assert token_from_headers([(b"x-api-key", b"xyz")]) == "xyz"
    assert token_from_headers([(b"authorization", b"Basic abc")]) is None
    assert token_from_headers([]) is None
