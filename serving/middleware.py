"""Authentication, authorisation and the audit record of every call, as one ASGI middleware.

Add it to the BentoML service with ``svc.add_asgi_middleware(AuditMiddleware,
settings=StoreSettings(...))`` (BentoML builds it as ``AuditMiddleware(app, **options)`` in
each worker), or wrap any ASGI app with ``AuditMiddleware(app, store=store)``.

For every request that is not public (:func:`serving.permissions.is_public`) it:

1. reads the request body (at most ``max_body_bytes``) to find ``child_id`` and ``purpose``
   (top-level JSON fields, or one level down, e.g. ``{"request": {"child_id": ...}}``, or the
   query string), then replays the body to the app unchanged;
2. checks the key (``Authorization: Bearer <key>``, or ``X-API-Key: <key>``): 401 if missing,
   unknown or revoked; 403 if the key's role may not call the path and 404 if the path is no
   endpoint of the permission map (deny by default: the app never sees it); 415 if a body is sent as
   anything but ``application/json`` (so a form body cannot name one child to the audit row
   and another to the app); 400 if its JSON nests deeper than :data:`MAX_DEPTH` (measured
   without parsing, so it cannot overflow); each with a JSON body
   ``{"error": ..., "detail": ...}`` saying what to do;
3. writes the audit row *before* the response goes out: refusals at once, the app's answer
   when its ``http.response.start`` passes. If the row cannot be written the caller gets 503
   instead of the answer, so no response leaves unlogged. Rows are written by a
   :class:`access.writer.GroupWriter`, which commits the rows of concurrent requests
   together.

Contract with the app:

- the app states the model versions behind an answer in the response header
  ``x-lantern-model-versions`` (see :func:`access.records.format_model_versions`); the
  middleware copies it into the audit row and leaves it in the response;
- the app finds the verified key and the request id in the request state:
  ``request.state.lantern_key`` (a :class:`access.store.ApiKey`) and
  ``request.state.lantern_request_id`` (also sent back as the ``x-request-id`` header);
- the app appends each prompt it issues (a :class:`access.store.PromptRecord`) to the list
  ``request.state.lantern_prompts``; a successful answer's prompts are written in the same
  transaction as its audit row, so a prompt is stored if and only if its request is logged.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import anyio.to_thread

from access.config import StoreSettings
from access.records import ApiKey, AuditEntry, Outcome, PromptRecord
from access.roles import Role
from access.store import Store
from access.writer import GroupWriter
from serving.permissions import PERMISSIONS, authorise, is_public

__all__ = [
    "MODEL_VERSIONS_HEADER",
    "PROMPTS_STATE",
    "MAX_DEPTH",
    "PRIVATE_HEADERS",
    "REQUEST_ID_HEADER",
    "SECURITY_HEADERS",
    "AuditMiddleware",
    "too_deep",
    "request_fields",
    "token_from_headers",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MODEL_VERSIONS_HEADER = "x-lantern-model-versions"
"""Response header in which the app names the model versions behind its answer."""

REQUEST_ID_HEADER = "x-request-id"
"""Response header carrying the request id that the audit row records."""

PROMPTS_STATE = "lantern_prompts"
"""Request-state list to which the app appends the prompts it issues."""

_FIELDS = ("child_id", "purpose")

MAX_DEPTH = 32
"""Deepest JSON nesting a request may have; Lantern's requests are two or three deep."""
_log = logging.getLogger(__name__)

_MISSING = (
    "missing API key",
    "send your Lantern API key in the Authorization header as 'Bearer <key>' (or as "
    "X-API-Key); ask your Lantern administrator for a key if you have none",
)
_UNKNOWN = (
    "unknown API key",
    "Lantern did not issue this key: check it was copied whole, or ask your Lantern "
    "administrator for a new one",
)
_REVOKED = (
    "revoked API key",
    "this key was revoked; ask your Lantern administrator for a new one",
)
_KEY_CHECK = (
    "key check unavailable",
    "Lantern could not check your key just now; try again shortly, and tell your Lantern "
    "administrator if this keeps happening",
)
_NO_ANSWER = (
    "no answer",
    "the service ended without answering; tell your Lantern administrator",
)
_UNAVAILABLE = (
    "audit log unavailable",
    "Lantern could not record this request in its audit log, so it has not answered it; "
    "try again shortly, and tell your Lantern administrator if this keeps happening",
)


def token_from_headers(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The API key from ``Authorization: Bearer <key>`` or ``X-API-Key``, else None."""
    found = {name.lower(): value for name, value in headers}
    auth = found.get(b"authorization", b"").decode("latin-1").strip()
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = found.get(b"x-api-key", b"").decode("latin-1").strip()
    return key or None


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the arrays and objects of a JSON text nest deeper than ``limit`` (brackets in
    strings ignored).

    Linear, without recursion and stopping at the first level past ``limit``, so a body of
    200,000 ``[`` is measured, not parsed; a body with at most ``limit`` brackets in all is
    not scanned.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


def request_fields(body: bytes, query_string: bytes = b"") -> dict[str, str]:
    """``child_id`` and ``purpose`` from a JSON body (top level, else one level down) or the
    query string; absent fields are left out.

    Parameters
    ----------
    body : bytes
        The raw request body (anything not a JSON object is ignored).
    query_string : bytes
        The raw query string.

    Returns
    -------
    dict of str to str
    """
    found: dict[str, str] = {}
    try:
        data = json.loads(body) if body else None
    except (ValueError, RecursionError):  # the middleware refuses deep bodies before this
        data = None
    if isinstance(data, dict):
        nested = [v for v in data.values() if isinstance(v, dict)]
        for source in (data, *nested):
            for name in _FIELDS:
                value = source.get(name)
                if (
                    name not in found
                    and isinstance(value, str | int)
                    and not isinstance(value, bool)
                ):
                    found[name] = str(value)
    query = parse_qs(query_string.decode("latin-1"))
    for name in _FIELDS:
        if name not in found and query.get(name):
            found[name] = query[name][0]
    return found


def _header(message: Message, name: bytes) -> str | None:
    for key, value in message.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class AuditMiddleware:
    """ASGI middleware: API-key authentication, role authorisation, and an audit row per call.

    Parameters
    ----------
    app : ASGI application
        The application to protect.
    settings : StoreSettings, optional
        Where the keys and the audit log are (default ``StoreSettings()``); ignored if
        ``store`` is given.
    store : Store, optional
        A store to use (e.g. shared with the app).
    permissions : mapping, optional
        Endpoint path -> the roles that may call it (default
        :data:`serving.permissions.PERMISSIONS`); any other path is refused with 404.
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: StoreSettings | None = None,
        store: Store | None = None,
        permissions: Mapping[str, frozenset[Role]] = PERMISSIONS,
    ) -> None:
        self.app = app
        self.permissions = permissions
        self.store = store if store is not None else Store(settings)
        mode = self.store.settings.audit_writer
        self.writer = GroupWriter(
            self.store, on_loop=None if mode == "auto" else mode == "event_loop"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            send = _secured(send, private=not is_public(scope["path"]))
        if scope["type"] not in ("http", "websocket") or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await self._refuse_websocket(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        entry = {
            "endpoint": scope["path"],
            "method": scope["method"],
            "request_id": request_id,
        }
        body, too_large = await self._read_body(scope, receive)
        if body is None:
            return  # the caller went away before sending the whole request: nothing to answer
        deep = too_deep(body)
        # A deep body is not parsed at all: its row names what the query string says.
        entry.update(request_fields(b"" if deep else body, scope.get("query_string", b"")))
        if deep:
            await self._refuse(
                send,
                entry,
                400,
                "request too deeply nested",
                f"the request body nests arrays or objects more than {MAX_DEPTH} deep; send "
                "the fields Lantern's API documents, at most a few levels deep",
            )
            return
        if too_large:
            limit = self.store.settings.max_body_bytes
            await self._refuse(
                send,
                entry,
                413,
                "request too large",
                f"the request body is over {limit:,} bytes; send one child's request at a time",
            )
            return
        token = token_from_headers(scope.get("headers", []))
        try:
            key = await self._verify(token) if token else None
        except Exception:
            _log.exception("could not check an API key against %s", self.store.describe())
            await self._refuse(send, entry, 503, *_KEY_CHECK, outcome=Outcome.error)
            return
        if key is not None:
            entry.update(key_name=key.name, role=key.role)
        refusal = None
        if token is None:
            refusal = (401, *_MISSING)
        elif key is None:
            refusal = (401, *_UNKNOWN)
        elif key.revoked:
            refusal = (401, *_REVOKED)
        else:
            decision = authorise(scope["path"], key.role, self.permissions)
            if not decision.allowed:
                error = "not permitted" if decision.status == 403 else "no such endpoint"
                refusal = (decision.status, error, decision.detail)
        if refusal is None:
            refusal = _content_refusal(_header(scope, b"content-type"), body)
        if refusal is not None:
            await self._refuse(send, entry, *refusal)
            return
        state = scope.setdefault("state", {})
        state["lantern_key"] = key
        state["lantern_request_id"] = request_id
        state[PROMPTS_STATE] = []
        await self._call_app(scope, _replay(body, receive), send, entry)

    # ------------------------------------------------------------------ steps

    async def _read_body(self, scope: Scope, receive: Receive) -> tuple[bytes | None, bool]:
        """The whole body, and whether it is over the limit; None if the caller disconnected."""
        limit = self.store.settings.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            return b"", True
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None, False
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return b"", True
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks), False

    async def _verify(self, token: str) -> ApiKey | None:
        cached = self.store.cached_key(token)
        if cached is not None:
            return cached
        return await anyio.to_thread.run_sync(self.store.verify_key, token)

    async def _audit(self, entry: dict[str, Any], issued: list[PromptRecord] | None = None) -> bool:
        try:
            await self.writer.write(AuditEntry(**entry), issued or ())
        except Exception:
            _log.exception(
                "could not write the audit row of request %s to %s; the caller got 503",
                entry["request_id"],
                self.store.describe(),
            )
            return False
        return True

    async def _refuse(
        self,
        send: Send,
        entry: dict[str, Any],
        status: int,
        error: str,
        detail: str,
        outcome: Outcome = Outcome.refused,
    ) -> None:
        logged = await self._audit({**entry, "status": status, "outcome": outcome, "detail": error})
        if not logged:
            await _send_json(send, 503, *_UNAVAILABLE, entry["request_id"])
            return
        extra = [(b"www-authenticate", b"Bearer")] if status == 401 else []
        await _send_json(send, status, error, detail, entry["request_id"], extra)

    async def _call_app(self, scope: Scope, receive: Receive, send: Send, entry: dict) -> None:
        started = blocked = False

        async def audited_send(message: Message) -> None:
            nonlocal started, blocked
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                logged = await self._audit(
                    {
                        **entry,
                        "status": status,
                        "outcome": Outcome.allowed if status < 400 else Outcome.error,
                        "model_versions": _header(message, MODEL_VERSIONS_HEADER.encode()),
                    },
                    scope["state"].get(PROMPTS_STATE) if status < 400 else None,
                )
                if not logged:
                    blocked = True
                    await _send_json(send, 503, *_UNAVAILABLE, entry["request_id"])
                    return
                headers = [*message.get("headers", []), (b"x-request-id", entry["request_id"])]
                message = {**message, "headers": _encoded(headers)}
            elif blocked:
                return
            await send(message)

        try:
            await self.app(scope, receive, audited_send)
        except Exception as err:
            if not started:
                # Starlette's outermost middleware answers 500; the row says why (if the
                # database is down too, that 500 still carries nothing from the app).
                await self._audit(
                    {
                        **entry,
                        "status": 500,
                        "outcome": Outcome.error,
                        "detail": f"the service raised {type(err).__name__}",
                    }
                )
            raise
        if not started:
            await self._refuse(send, entry, 500, *_NO_ANSWER, outcome=Outcome.error)

    async def _refuse_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Lantern has no WebSocket endpoints; refuse before accepting, and record it.
        await receive()
        await self._audit(
            {
                "endpoint": scope["path"],
                "method": "WEBSOCKET",
                "request_id": uuid.uuid4().hex,
                "status": 403,
                "outcome": Outcome.refused,
                "detail": "Lantern has no WebSocket endpoints",
            }
        )
        await send({"type": "websocket.close", "code": 1008})


SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        b"form-action 'self'; object-src 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
"""Sent on every response (unless the app set the header itself). The reports' inline
``<style>`` and ``data:`` figures are allowed; scripts only from the service itself."""

PRIVATE_HEADERS: tuple[tuple[bytes, bytes], ...] = ((b"cache-control", b"no-store"),)
"""Also sent on every response that needs a key: it may carry a child's data."""


def _secured(send: Send, *, private: bool) -> Send:
    """``send``, adding :data:`SECURITY_HEADERS` (and :data:`PRIVATE_HEADERS`) to the start
    of each response."""
    extra = SECURITY_HEADERS + (PRIVATE_HEADERS if private else ())

    async def secured(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = _encoded(list(message.get("headers", [])))
            present = {k.lower() for k, _ in headers}
            headers += [(k, v) for k, v in extra if k not in present]
            message = {**message, "headers": headers}
        await send(message)

    return secured


def _content_refusal(content_type: str | None, body: bytes) -> tuple[int, str, str] | None:
    """415 for a body that is not JSON: the endpoints read JSON only, and a form or multipart
    body could be parsed one way for the audit row and another way by the app."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "application/json" or (not media and not body):
        return None
    return (
        415,
        "unsupported content type",
        f"send the request body as JSON with 'Content-Type: application/json' (this request "
        f"sent {repr(media) if media else 'a body with no content type'})",
    )


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that returns the buffered body once, then defers to the server's."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _encoded(headers: list[tuple[bytes, bytes | str]]) -> list[tuple[bytes, bytes]]:
    return [(k, v.encode("latin-1") if isinstance(v, str) else v) for k, v in headers]


async def _send_json(
    send: Send,
    status: int,
    error: str,
    detail: str,
    request_id: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = json.dumps({"error": error, "detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (REQUEST_ID_HEADER.encode(), request_id.encode()),
        *(extra or []),
    ]
    if status == 503:
        headers.append((b"retry-after", b"5"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
