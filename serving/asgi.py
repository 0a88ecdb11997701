"""The pure pieces of the audit middleware: reading a request, shaping a response.

Nothing here keeps state or touches the store: :mod:`serving.middleware` puts them together.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

__all__ = [
    "MAX_DEPTH",
    "PRIVATE_HEADERS",
    "REQUEST_ID_HEADER",
    "SECURITY_HEADERS",
    "ASGIApp",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "client_address",
    "content_refusal",
    "encoded",
    "header",
    "replay",
    "request_fields",
    "secured",
    "send_json",
    "token_from_headers",
    "too_deep",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID_HEADER = "x-request-id"
"""Response header carrying the request id that the audit row records."""

_FIELDS = ("child_id", "purpose")

MAX_DEPTH = 32
"""Deepest JSON nesting a request may have; Lantern's requests are two or three deep."""


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


def client_address(scope: Scope) -> str | None:
    """The caller's address as the server saw it (no proxy header is trusted)."""
    client = scope.get("client")
    return str(client[0]) if client else None


def header(message: Message, name: bytes) -> str | None:
    for key, value in message.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


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


def secured(send: Send, *, private: bool) -> Send:
    """``send``, adding :data:`SECURITY_HEADERS` (and :data:`PRIVATE_HEADERS`) to the start
    of each response."""
    extra = SECURITY_HEADERS + (PRIVATE_HEADERS if private else ())

    async def secured(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = encoded(list(message.get("headers", [])))
            present = {k.lower() for k, _ in headers}
            headers += [(k, v) for k, v in extra if k not in present]
            message = {**message, "headers": headers}
        await send(message)

    return secured


def content_refusal(content_type: str | None, body: bytes) -> tuple[int, str, str] | None:
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


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that returns the buffered body once, then defers to the server's."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def encoded(headers: list[tuple[bytes, bytes | str]]) -> list[tuple[bytes, bytes]]:
    return [(k, v.encode("latin-1") if isinstance(v, str) else v) for k, v in headers]


async def send_json(
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
