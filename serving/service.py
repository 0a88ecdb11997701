"""Lantern's HTTP service: explained advisory prompts, cohort lists, judgements, model cards.

``bentoml serve serving.service:Lantern`` (or ``lantern serve``). The service is a thin face
over :class:`serving.state.Served`; :class:`serving.middleware.AuditMiddleware` checks every
caller's key and role and writes the audit row before any answer leaves. Settings come from
``$LANTERN_SERVICE_CONFIG`` (YAML, see :class:`serving.state.ServiceSettings`) or the
environment (``LANTERN_FEATURES``, ``LANTERN_DATABASE_URL``, ``MLFLOW_TRACKING_URI``).

A promotion is picked up without a restart: ``POST /reload`` (analysts), or each worker's
watch on the registry's ``champion`` aliases. A new state is built beside the old one and
swapped in; requests in flight finish on the state they started with.
"""

from __future__ import annotations

import html
import json
import logging
import threading
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any, Literal

import bentoml
from fastapi import FastAPI, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import Field

from access.data_protection import retention_report
from access.records import (
    AuditEntry,
    InvalidJudgementError,
    Outcome,
    UnknownPromptError,
    format_model_versions,
    new_prompt_id,
    prompt_record,
)
from access.store import Store
from explain.feature_record import FeatureRecordError
from serving.fleet import Board, Fleet, ReloadFailed, default_board_folder
from serving.middleware import (
    AUDIT_STATE,
    MODEL_VERSIONS_HEADER,
    RECORDS_STATE,
    Answered,
    AuditMiddleware,
)
from serving.state import (
    NotReadyError,
    Served,
    UnknownChildError,
    UnknownModelError,
    champion_versions,
    load_served,
    load_service_settings,
)

log = logging.getLogger("lantern.service")

UI_DIR = Path(__file__).parent / "ui"

ChildId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_\-]+$",
        description="The child's pseudonymised id, as in the partnership's extracts.",
    ),
]
Purpose = Annotated[
    str,
    Field(
        min_length=3,
        max_length=500,
        pattern=r"\S",
        description="Why the prompt is requested (recorded in the audit log), e.g. "
        "'team around the child meeting'.",
    ),
]

web = FastAPI(title="Lantern pages", docs_url=None, redoc_url=None, openapi_url=None)


def _encode(body: dict) -> str:
    """JSON text of an answer, encoded once: sent as it is (BentoML's serde would validate
    the document again) and stored as it is."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _error(ctx: bentoml.Context, status: int, error: str, detail: str, **extra) -> dict:
    ctx.response.status_code = status
    return {"error": error, "detail": detail, **extra}


TRAFFIC_TIMEOUT = 60
"""BentoML's limit on a request, in seconds. The audit middleware stops a request 5 s sooner
and answers 504 itself, so the timeout has its audit row before the answer leaves."""

_SETTINGS = load_service_settings()
"""The settings BentoML needs before any worker starts (each worker loads its own too)."""


@bentoml.service(
    name="lantern",
    traffic={"timeout": TRAFFIC_TIMEOUT},
    workers=_SETTINGS.workers,
    logging={"access": {"enabled": False}},  # every request has its row in the audit log
    tracing={} if _SETTINGS.trace_requests else {"excluded_urls": [".*"]},
)
@bentoml.asgi_app(web, path="/")
class Lantern:
    """Explained advisory prompts for a safeguarding partnership (see the module docstring)."""

    def __init__(self) -> None:
        self.settings = load_service_settings()
        self.store = Store(self.settings.store)
        self.not_ready = ""
        try:
            served = load_served(self.settings)
        except NotReadyError as err:
            served, self.not_ready = None, str(err)
            log.warning("not ready: %s", err)
        board = Board(self.settings.run_dir or default_board_folder())
        self.fleet: Fleet[Served | None] = Fleet(
            board,
            self._load,
            served,
            plan_of=lambda state: state.plan(),
            load_plan=lambda plan: load_served(self.settings, plan=plan),
        )
        if self.settings.watch_seconds > 0:
            threading.Thread(target=self._watch, name="lantern-watch", daemon=True).start()
        if self.settings.retention_hours > 0 and bentoml.server_context.worker_index in (None, 1):
            threading.Thread(target=self._retain, name="lantern-retention", daemon=True).start()

    # ------------------------------------------------------------------ state

    @property
    def served(self) -> Served | None:
        """The state this request is answered from (every worker serves the same one)."""
        return self.fleet.state

    def _load(self) -> Served:
        return load_served(self.settings)

    def reload(self, *, wait: bool = True) -> dict[str, Any]:
        """Load the champions and the newest snapshot in every worker, then switch them all
        together; the service keeps its state if any worker cannot load the new one."""
        current = self.served
        before = current.versions() if current else {}
        try:
            swapped = self.fleet.reload(wait=wait)
        except (NotReadyError, ReloadFailed) as err:
            log.warning("not reloaded: %s", err)
            if current is None:
                self.not_ready = str(err)
            return {"reloaded": False, "reason": str(err), "serving": before}
        if swapped is None:
            return {"reloaded": False, "reason": "another reload is under way", "serving": before}
        previous, served = swapped
        self.not_ready = ""
        return {
            "reloaded": True,
            "previous": previous.versions() if previous else {},
            "serving": served.versions(),
            "snapshot_date": f"{served.snapshot.date:%Y-%m-%d}",
        }

    def _watch(self) -> None:
        stop = threading.Event()
        while not stop.wait(self.settings.watch_seconds):
            try:
                current = champion_versions(self.settings)
                served = self.served
                serving = served.versions() if served else {}
                if current != serving and all(current.values()):
                    log.info("champion changed %s -> %s: reloading", serving, current)
                    self.reload(wait=False)
            except Exception:  # keep watching: one failed look at the registry is not fatal
                log.exception("the registry watch failed; trying again later")

    def _retain(self) -> None:
        """Apply the retention policy now and every ``retention_hours`` (one worker does)."""
        stop = threading.Event()
        while True:
            try:
                report = retention_report(self.store, apply=True, operator="lantern service")
                removed = sum(i.rows for i in report.items)
                log.info("retention applied: %d rows removed (run %s)", removed, report.run_id)
            except Exception:  # e.g. a PostgreSQL login that may not delete: say so, go on
                log.exception(
                    "scheduled retention failed; run `lantern retention --apply` with a login "
                    "that may delete expired rows"
                )
            if stop.wait(self.settings.retention_hours * 3600):
                return

    def __is_ready__(self) -> bool:
        return self.served is not None

    def _ready(self, ctx: bentoml.Context) -> Served | dict:
        served = self.served
        if served is None:
            return _error(ctx, 503, "not ready", self.not_ready)
        ctx.response.headers[MODEL_VERSIONS_HEADER] = format_model_versions(served.versions())
        return served

    @staticmethod
    def _key_name(ctx: bentoml.Context) -> str:
        key = getattr(ctx.request.state, "lantern_key", None)
        return key.name if key is not None else "(none)"

    @staticmethod
    def _answered(ctx: bentoml.Context, **facts) -> None:
        """Tell the middleware what this request validated and used: its audit row says so."""
        setattr(ctx.request.state, AUDIT_STATE, Answered(**facts))

    def _keep(self, ctx: bentoml.Context, record) -> None:
        """Hand a prompt or judgement to the middleware, which stores it in the same
        transaction as the request's audit row (or store it now, if unaudited)."""
        pending = getattr(ctx.request.state, RECORDS_STATE, None)
        if pending is None:
            self.store.append_audits([], [record])
        else:
            pending.append(record)

    def _issue(self, ctx, served: Served, make, child_id: str, purpose: str) -> Response:
        """Build a prompt and keep its record with the request's audit row."""
        prompt_id = new_prompt_id()
        issued_at = datetime.now(UTC)
        prompt = make(prompt_id=prompt_id, issued_at=issued_at).to_dict()
        text = _encode(prompt)
        record = prompt_record(
            child_id=child_id,
            key_name=self._key_name(ctx),
            prompt=prompt,
            purpose=purpose,
            model_versions=served.versions(),
            issued_at=issued_at,
            prompt_id=prompt_id,
            encoded=text,
        )
        self._keep(ctx, record)
        return Response(text.encode(), media_type="application/json")

    # ------------------------------------------------------------------ practitioners

    @bentoml.api(route="/prompt")
    async def prompt(self, child_id: ChildId, purpose: Purpose, ctx: bentoml.Context) -> dict:
        """The advisory prompt about one child, from every model: reasons, protective factors,
        missing records, the band and rank, and the advisory notice. Never a bare score."""
        self._answered(ctx, child_id=child_id, purpose=purpose)
        served = self._ready(ctx)
        if not isinstance(served, Served):
            return served
        try:
            return self._issue(
                ctx,
                served,
                lambda **kw: served.prompt(child_id, purpose, **kw),
                child_id,
                purpose,
            )
        except UnknownChildError as err:
            return _error(ctx, 404, "unknown child", str(err))

    @bentoml.api(route="/prompt_from_record")
    async def prompt_from_record(
        self,
        record: dict[str, float | int | bool | str | None],
        purpose: Purpose,
        ctx: bentoml.Context,
        child_id: ChildId = "record",
        source: Annotated[str, Field(max_length=200)] = "",
    ) -> dict:
        """The advisory prompt for a feature record held by another system (feature name ->
        value; leave out or send null what is not recorded). Every bad field is named.

        Filed under ``child_id`` (default ``record``); a child of the partnership's own data
        only with the record's ``source`` stated (e.g. "school MIS, 3 Nov"), which the audit
        row keeps."""
        source = source.strip()
        self._answered(
            ctx,
            child_id=child_id,
            purpose=purpose,
            detail=f"record from: {source}" if source else None,
        )
        served = self._ready(ctx)
        if not isinstance(served, Served):
            return served
        if child_id in served.snapshot.rows and not source:
            return _error(
                ctx,
                400,
                "record source needed",
                f"{child_id} is a child of the partnership's own data: a prompt from a record "
                "is filed under that child only with the record's source stated (send "
                "'source', e.g. 'school MIS, 3 Nov'), or leave child_id out",
            )
        try:
            return self._issue(
                ctx,
                served,
                lambda **kw: served.prompt_from_record(record, purpose, child_id=child_id, **kw),
                child_id,
                purpose,
            )
        except FeatureRecordError as err:
            return _error(ctx, 400, "invalid record", str(err), problems=err.problems)

    @bentoml.api(route="/judgement")
    def judgement(
        self,
        prompt_id: Annotated[str, Field(min_length=1, max_length=64)],
        view: Literal["agree", "disagree"],
        ctx: bentoml.Context,
        note: Annotated[str, Field(max_length=2000)] = "",
    ) -> dict:
        """Record the practitioner's own judgement on a prompt: agree or disagree, and why.
        Only the key the prompt was issued to may record one."""
        try:
            saved, prompt = self.store.judgement_for(
                prompt_id, view, key_name=self._key_name(ctx), note=note or None
            )
        except UnknownPromptError as err:
            return _error(ctx, 404, "unknown prompt", str(err))
        except (InvalidJudgementError, ValueError) as err:
            return _error(ctx, 400, "invalid judgement", str(err))
        self._answered(ctx, child_id=prompt.child_id, purpose=prompt.purpose)
        self._keep(ctx, saved)
        return {"recorded": True, "prompt_id": prompt_id, "view": view, "at": str(saved.at)}

    # ------------------------------------------------------------------ analysts

    @bentoml.api(route="/cohort")
    def cohort(
        self,
        model: Annotated[str, Field(min_length=1, max_length=64)],
        capacity: Annotated[int, Field(ge=1, le=100_000)],
        purpose: Purpose,
        ctx: bentoml.Context,
    ) -> dict:
        """A team's cohort list: its ``capacity`` children of highest concern for ``model``,
        each with their top reasons and protective factors. ``capacity`` is at most the
        team capacity in the service's settings; every child listed is in the audit row."""
        self._answered(ctx, purpose=purpose)
        limit = self.settings.cohort_capacity
        if capacity > limit:
            return _error(
                ctx,
                400,
                "invalid capacity",
                f"capacity {capacity} is more than the team capacity of {limit} children set "
                "for this service (cohort_capacity in its settings); ask for at most "
                f"{limit}, the children your team can act on",
            )
        served = self._ready(ctx)
        if not isinstance(served, Served):
            return served
        try:
            cohort = served.cohort(model, capacity)
            self._answered(
                ctx, purpose=purpose, children=tuple(c.child_id for c in cohort.children)
            )
            return cohort.to_dict() | {
                "snapshot_date": f"{served.snapshot.date:%Y-%m-%d}",
                "version": served.versions()[model],
            }
        except UnknownModelError as err:
            return _error(ctx, 404, "unknown model", str(err))
        except ValueError as err:
            return _error(ctx, 400, "invalid capacity", str(err))

    @bentoml.api(route="/reload")
    def reload_models(self, ctx: bentoml.Context) -> dict:
        """Pick up a promotion now: load each model's champion and the newest snapshot.

        The request is written to the audit log before anything changes (and its answer
        after, as every answer is)."""
        key = getattr(ctx.request.state, "lantern_key", None)
        request_id = getattr(ctx.request.state, "lantern_request_id", None)
        if key is not None:
            try:
                self.store.append_audit(
                    AuditEntry(
                        endpoint="/reload",
                        method="POST",
                        outcome=Outcome.allowed,
                        request_id=request_id or new_prompt_id(),
                        key_name=key.name,
                        role=key.role,
                        detail="reload requested; nothing changed yet",
                    )
                )
            except Exception:
                log.exception("could not log a reload request; not reloading")
                return _error(
                    ctx,
                    503,
                    "audit log unavailable",
                    "Lantern could not record the reload request, so it did not reload; try "
                    "again shortly",
                )
        result = self.reload()
        served = self.served
        if served is not None:
            versions = format_model_versions(served.versions())
            ctx.response.headers[MODEL_VERSIONS_HEADER] = versions
        if not result["reloaded"] and served is None:
            ctx.response.status_code = 503
        return result

    # ------------------------------------------------------------------ auditors

    @bentoml.api(route="/audit_log")
    def audit_log(
        self,
        since: date,
        ctx: bentoml.Context,
        until: date | None = None,
        child_id: ChildId | None = None,
        limit: Annotated[int, Field(ge=1, le=100_000)] = 1000,
    ) -> dict:
        """Audit rows written on or after ``since`` (and before ``until``), oldest first."""
        self._answered(ctx, child_id=child_id)
        start = datetime.combine(since, time(), UTC)
        end = datetime.combine(until, time(), UTC) if until else None
        rows = self.store.audit_rows(start, end, child_id=child_id, limit=limit)
        return {"rows": [r.as_dict() for r in rows], "count": len(rows)}

    # ------------------------------------------------------------------ pages (GET)

    @web.get("/model_card")
    def model_card(self, model: Annotated[str | None, Query(max_length=64)] = None) -> JSONResponse:
        """The model card of each served model (or of ``model``), with the version served."""
        served = self.served
        if served is None:
            return JSONResponse({"error": "not ready", "detail": self.not_ready}, 503)
        names = [model] if model else list(served.models)
        unknown = [n for n in names if n not in served.models]
        if unknown:
            return JSONResponse(
                {
                    "error": "unknown model",
                    "detail": f"no model called {unknown[0]!r} is served; choose one of "
                    f"{', '.join(served.models)}",
                },
                404,
            )
        body = {
            name: {"version": served.models[name].served.version, "card": served.models[name].card}
            for name in names
        }
        return JSONResponse(
            body, headers={MODEL_VERSIONS_HEADER: format_model_versions(served.versions())}
        )

    @web.get("/ui/overview", response_class=HTMLResponse)
    def overview_page(self) -> HTMLResponse:
        """The partnership overview (analysts and auditors)."""
        served = self.served
        if served is None:
            return HTMLResponse(f"<p>Lantern is not ready: {html.escape(self.not_ready)}</p>", 503)
        return HTMLResponse(_overview_html(self, served))


def _overview_html(service: Lantern, served: Served) -> str:
    """The partnership overview page, built once per served state (it scores every snapshot)."""
    cached = getattr(service, "_overview", None)
    if cached and cached[0] is served:
        return cached[1]
    from governance.overview_report import render_overview_html
    from governance.overview_store import overview_for_partnership

    settings = service.settings
    overview = overview_for_partnership(
        settings.features, settings.tracking, models=list(served.models)
    )
    html = render_overview_html(overview)
    service._overview = (served, html)
    return html


web.mount("/ui", StaticFiles(directory=UI_DIR, html=True), name="ui")

Lantern.add_asgi_middleware(
    AuditMiddleware,
    settings=_SETTINGS.store,
    workers=_SETTINGS.workers,
    timeout=TRAFFIC_TIMEOUT - 5,
)
