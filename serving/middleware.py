"""Authentication, authorisation and the audit record of every call, as one ASGI middleware.

Add it to the BentoML service with ``svc.add_asgi_middleware(AuditMiddleware,
settings=StoreSettings(...))`` (BentoML builds it as ``AuditMiddleware(app, **options)`` in
each worker), or wrap any ASGI app with ``AuditMiddleware(app, store=store)``.

For every request that is not public (:func:`serving.permissions.is_public`) it does the
following (the pure steps, reading the request and shaping answers, are :mod:`serving.asgi`'s):

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
- the app appends each prompt it issues and each judgement it accepts (a
  :class:`access.records.PromptRecord` or :class:`access.records.Judgement`) to the list
  ``request.state.lantern_records``; a successful answer's records are written in the same
  transaction as its audit row, so a change is stored if and only if its request is logged;
- the app states what it actually served in ``request.state.lantern_audit`` (a
  :class:`Answered`: the child and purpose it validated and used, and the children a cohort
  returned). The audit row of an answer the app gave records those, not what the middleware
  read from the body beforehand; the middleware's own reading names the child and purpose
  only on rows of requests the app never accepted (refusals, invalid input).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import anyio.to_thread

from access.config import StoreSettings
from access.limits import Limiter
from access.records import ApiKey, AuditEntry, Judgement, Outcome, PromptRecord
from access.roles import Role
from access.store import Store
from access.writer import GroupWriter
from serving.asgi import (
    MAX_DEPTH,
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    client_address,
    content_refusal,
    encoded,
    header,
    replay,
    request_fields,
    secured,
    send_json,
    token_from_headers,
    too_deep,
)
from serving.permissions import PERMISSIONS, authorise, is_public

__all__ = ["AUDIT_STATE", "MODEL_VERSIONS_HEADER", "RECORDS_STATE", "Answered", "AuditMiddleware"]

MODEL_VERSIONS_HEADER = "x-lantern-model-versions"
"""Response header in which the app names the model versions behind its answer."""


RECORDS_STATE = "lantern_records"
"""Request-state list to which the app appends the prompts it issues and judgements it takes."""

AUDIT_STATE = "lantern_audit"
"""Request-state attribute where the app puts what it served (an :class:`Answered`)."""


@dataclass(frozen=True)
class Answered:
    """What an endpoint validated and used: the audit row of its answer records exactly this.

    Attributes
    ----------
    child_id, purpose : str or None
    children : tuple of str
        The children a cohort list returned, in order.
    detail : str or None
        Anything else the row must say (e.g. where a record came from).
    """

    child_id: str | None = None
    purpose: str | None = None
    children: tuple[str, ...] = ()
    detail: str | None = None


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
_EXPIRED = (
    "expired API key",
    "this key has expired; ask your Lantern administrator for a new one",
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
    workers : int
        Worker processes sharing the request limits (each allows its share).
    clock : callable
        Seconds since the epoch, for the request limits (default :func:`time.time`).
    timeout : float
        Seconds the app may take to start its answer; then the middleware stops it and
        answers 504, audited (less than BentoML's own ``traffic`` timeout, whose 504 would
        leave without a row).
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: StoreSettings | None = None,
        store: Store | None = None,
        permissions: Mapping[str, frozenset[Role]] = PERMISSIONS,
        workers: int = 1,
        clock: Callable[[], float] = time.time,
        timeout: float = 55.0,
    ) -> None:
        self.timeout = timeout
        self.app = app
        self.permissions = permissions
        self.store = store if store is not None else Store(settings)
        self.limiter = Limiter(self.store.settings.limits, clock, share=workers)
        mode = self.store.settings.audit_writer
        self.writer = GroupWriter(
            self.store, on_loop=None if mode == "auto" else mode == "event_loop"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            send = secured(send, private=not is_public(scope["path"]))
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
            "client": client_address(scope),
        }
        for client, start, count in self.limiter.due_counts():
            await self._count_refusals(client, start, count)
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
        elif key.expired():
            refusal = (401, *_EXPIRED)
        else:
            decision = authorise(scope["path"], key.role, self.permissions)
            if not decision.allowed:
                error = "not permitted" if decision.status == 403 else "no such endpoint"
                refusal = (decision.status, error, decision.detail)
        if refusal is not None and refusal[0] == 401:
            if not self.limiter.log_unauthenticated(entry["client"] or "(unknown)"):
                # Counted, and written as one row per address and minute (_count_refusals).
                await send_json(
                    send, 401, *refusal[1:], request_id, [(b"www-authenticate", b"Bearer")]
                )
                return
        if refusal is None:
            refusal = content_refusal(header(scope, b"content-type"), body)
        if refusal is None:
            verdict = self.limiter.admit(key.name, key.role)
            if not verdict.allowed:
                await self._refuse(
                    send,
                    entry,
                    429,
                    "too many requests",
                    verdict.detail,
                    extra=[(b"retry-after", str(verdict.retry_after).encode())],
                )
                return
        if refusal is not None:
            await self._refuse(send, entry, *refusal)
            return
        state = scope.setdefault("state", {})
        state["lantern_key"] = key
        state["lantern_request_id"] = request_id
        state[RECORDS_STATE] = []
        state[AUDIT_STATE] = None
        await self._call_app(scope, replay(body, receive), send, entry)

    # ------------------------------------------------------------------ steps

    async def _read_body(self, scope: Scope, receive: Receive) -> tuple[bytes | None, bool]:
        """The whole body, and whether it is over the limit; None if the caller disconnected."""
        limit = self.store.settings.max_body_bytes
        declared = header(scope, b"content-length")
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

    async def _audit(
        self, entry: dict[str, Any], records: list[PromptRecord | Judgement] | None = None
    ) -> bool:
        try:
            await self.writer.write(AuditEntry(**entry), records or ())
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
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        logged = await self._audit({**entry, "status": status, "outcome": outcome, "detail": error})
        if not logged:
            await send_json(send, 503, *_UNAVAILABLE, entry["request_id"])
            return
        extra = list(extra or [])
        if status == 401:
            extra.append((b"www-authenticate", b"Bearer"))
        await send_json(send, status, error, detail, entry["request_id"], extra)

    async def _count_refusals(self, client: str, start: int, count: int) -> None:
        minute = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M UTC")
        await self._audit(
            {
                "endpoint": "(unauthenticated requests)",
                "method": "COUNT",
                "request_id": uuid.uuid4().hex,
                "client": client,
                "status": 401,
                "outcome": Outcome.refused,
                "detail": f"{count} more requests without a valid key from {client} in the "
                f"minute from {minute} were refused; beyond "
                f"{self.limiter.settings.unauthenticated_rows_per_minute} a minute they are "
                "counted here, not written one by one",
            }
        )

    async def _alert_if_sweeping(self, entry: dict[str, Any], child_id: str) -> None:
        name, role = entry.get("key_name"), entry.get("role")
        if not name:
            return
        seen = self.limiter.child_asked(name, role, child_id)
        if seen is None:
            return
        threshold = self.limiter.threshold(name, role)
        _log.warning("key %s asked about %d children this hour", name, seen)
        await self._audit(
            {
                "endpoint": entry["endpoint"],
                "method": "ALERT",
                "request_id": uuid.uuid4().hex,
                "key_name": name,
                "role": role,
                "client": entry.get("client"),
                "outcome": Outcome.alert,
                "detail": f"key {name} ({role}) asked about more than {threshold} distinct "
                f"children this hour (about {seen} so far); check with its holder why",
            }
        )

    async def _call_app(self, scope: Scope, receive: Receive, send: Send, entry: dict) -> None:
        started = blocked = False

        async def audited_send(message: Message) -> None:
            nonlocal started, blocked
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                served = scope["state"].get(AUDIT_STATE)
                answered = {
                    **entry,
                    "status": status,
                    "outcome": Outcome.allowed if status < 400 else Outcome.error,
                    "model_versions": header(message, MODEL_VERSIONS_HEADER.encode()),
                }
                if served is not None and served.child_id and status in (200, 404):
                    await self._alert_if_sweeping(entry, served.child_id)
                if served is not None:
                    answered.update(
                        child_id=served.child_id,
                        purpose=served.purpose,
                        children=served.children if status < 400 else (),
                    )
                    if served.detail:
                        answered["detail"] = served.detail
                logged = await self._audit(
                    answered, scope["state"].get(RECORDS_STATE) if status < 400 else None
                )
                if not logged:
                    blocked = True
                    await send_json(send, 503, *_UNAVAILABLE, entry["request_id"])
                    return
                headers = [*message.get("headers", []), (b"x-request-id", entry["request_id"])]
                message = {**message, "headers": encoded(headers)}
            elif blocked:
                return
            await send(message)

        try:
            with anyio.move_on_after(self.timeout) as deadline:
                await self.app(scope, receive, audited_send)
        except anyio.get_cancelled_exc_class():
            if not started:  # the server is cancelling the request (e.g. shutting down)
                with anyio.CancelScope(shield=True):
                    await self._audit(
                        {
                            **entry,
                            "status": 499,
                            "outcome": Outcome.error,
                            "detail": "cancelled before the service answered",
                        }
                    )
            raise
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
        if deadline.cancelled_caught and not started:
            await self._refuse(
                send,
                entry,
                504,
                "took too long",
                f"the service did not answer within {self.timeout:g} seconds, so the request "
                "was stopped; try again, and tell your Lantern administrator if it keeps "
                "happening",
                outcome=Outcome.error,
            )
        elif not started:
            await self._refuse(send, entry, 500, *_NO_ANSWER, outcome=Outcome.error)

    async def _refuse_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Lantern has no WebSocket endpoints; refuse before accepting, and record it.
        await receive()
        await self._audit(
            {
                "endpoint": scope["path"],
                "method": "WEBSOCKET",
                "request_id": uuid.uuid4().hex,
                "client": client_address(scope),
                "status": 403,
                "outcome": Outcome.refused,
                "detail": "Lantern has no WebSocket endpoints",
            }
        )
        await send({"type": "websocket.close", "code": 1008})
