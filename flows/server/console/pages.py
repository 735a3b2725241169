"""The console's routes: server-rendered pages (Jinja2, autoescaped, every
value redacted) and the POST actions behind a session and its CSRF token."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from flows.db import sessions, transaction
from flows.server.console import actions, data
from flows.server.console.access import COOKIE, Access, Operator
from flows.server.service import Service

TEMPLATES = Path(__file__).parent / "templates"


def _environment(service: Service) -> jinja2.Environment:
    redact = service.capabilities.redactor

    def finalize(value: Any) -> Any:
        """Every value a page shows passes the redactor (then autoescape)."""
        return "" if value is None else redact(value) if isinstance(value, str) else value

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        finalize=finalize,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["when"] = lambda t: (
        "" if t is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))
    )
    env.filters["q"] = lambda v: quote(str(v), safe="")
    env.filters["github_link"] = github_link
    return env


_THREAD = re.compile(r"/repos/([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)/(?:issues|pulls)/(\d+)(?:/|$)")


def github_link(path: str) -> str:
    """The pull request or issue a write went to, on github.com ("" if none)."""
    m = _THREAD.match(path)
    return f"https://github.com/{m.group(1)}/pull/{m.group(2)}" if m else ""


def console_router(service: Service) -> APIRouter:
    router = APIRouter()
    cfg = service.cfg.console
    access = Access(cfg)
    env = _environment(service)
    factory = sessions(service.engine)

    def render(name: str, status: int = 200, op: Operator | None = None, **ctx: Any) -> Response:
        html = env.get_template(name).render(op=op, csrf=access.csrf(op) if op else "", **ctx)
        headers = {"Content-Security-Policy": "default-src 'self'; script-src 'none'; "
                   "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                   "frame-ancestors 'none'; form-action 'self'",
                   "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
                   "Cache-Control": "no-store"}  # fmt: skip
        return HTMLResponse(html, status_code=status, headers=headers)

    def who(request: Request) -> Operator | None:
        return access.operator(request.cookies.get(COOKIE), request.headers.get("authorization"))

    def gate(request: Request) -> Operator | Response:
        if not cfg.enabled:
            return render("off.html", 404)
        op = who(request)
        if op is None:
            nxt = quote(request.url.path, safe="/")
            return RedirectResponse(f"/console/sign-in?next={nxt}", status_code=303)
        return op

    def missing(op: Operator, what: str) -> Response:
        return render("message.html", 404, op, title="Not found", message=f"no {what}")

    @router.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> Response:
        op = gate(request)
        if not isinstance(op, Operator):
            return op
        with transaction(factory) as s:
            view = data.overview(s)
        peak = max([h["ok"] + h["failed"] for h in view["hours"]] + [1])
        return render("overview.html", op=op, v=view, peak=peak)

    @router.get("/deliveries", response_class=HTMLResponse)
    def deliveries(request: Request) -> Response:
        op = gate(request)
        if not isinstance(op, Operator):
            return op
        try:
            f = data.DeliveryFilter.parse(dict(request.query_params))
        except data.BadFilter as e:
            return render("message.html", 400, op, title="Bad filter", message=str(e))
        with transaction(factory) as s:
            rows = data.deliveries(s, f)
        more = len(rows) > data.PAGE
        return render("deliveries.html", op=op, rows=rows[: data.PAGE], f=f, more=more,
                    statuses=data.DELIVERY_STATUSES)  # fmt: skip

    @router.get("/deliveries/{delivery_id}", response_class=HTMLResponse)
    def delivery(request: Request, delivery_id: str, page: int = 1) -> Response:
        op = gate(request)
        if not isinstance(op, Operator):
            return op
        with transaction(factory) as s:
            view = data.delivery(s, delivery_id, page)
        if view is None:
            return missing(op, f"delivery {delivery_id}")
        return render("delivery.html", op=op, v=view)

    @router.get("/jobs/{job_id}", response_class=HTMLResponse)
    def job(request: Request, job_id: int) -> Response:
        op = gate(request)
        if not isinstance(op, Operator):
            return op
        with transaction(factory) as s:
            view = data.job(s, job_id)
        return missing(op, f"job {job_id}") if view is None else render("job.html", op=op, v=view)

    @router.get("/runs/{run_id}", response_class=HTMLResponse)
    def run(request: Request, run_id: str) -> Response:
        op = gate(request)
        if not isinstance(op, Operator):
            return op
        with transaction(factory) as s:
            view = data.run(s, run_id)
        return missing(op, f"run {run_id}") if view is None else render("run.html", op=op, v=view)

    async def act(request: Request, back: str, do) -> Response:  # type: ignore[no-untyped-def]
        op = gate(request)
        if not isinstance(op, Operator):
            return op
        form = await request.form()
        given = request.headers.get("x-csrf-token") or str(form.get("csrf") or "")
        if not access.csrf_ok(op, given):
            why = "this form has no valid CSRF token: reload the page and try again"
            return render("message.html", 403, op, title="Refused", message=why)
        with transaction(factory) as s:
            outcome = do(s, op.who)
        status = 200 if outcome.ok else 409
        return render("message.html", status, op, title="Done" if outcome.ok else "Not done",
                    message=outcome.message, back=back)  # fmt: skip

    @router.post("/jobs/{job_id}/retry")
    async def retry(request: Request, job_id: int) -> Response:
        return await act(request, f"/jobs/{job_id}", lambda s, w: actions.retry(s, job_id, w))

    @router.post("/jobs/{job_id}/cancel")
    async def cancel(request: Request, job_id: int) -> Response:
        return await act(request, f"/jobs/{job_id}", lambda s, w: actions.cancel(s, job_id, w))

    @router.post("/deliveries/{delivery_id}/redeliver")
    async def redeliver(request: Request, delivery_id: str) -> Response:
        back = f"/deliveries/{quote(delivery_id, safe='')}"
        return await act(request, back, lambda s, w: actions.redeliver(s, delivery_id, w))

    @router.get("/console/sign-in", response_class=HTMLResponse)
    def sign_in_form(next: str = "/") -> Response:
        if not cfg.enabled:
            return render("off.html", 404)
        return render("sign_in.html", next=_local(next), error="")

    @router.post("/console/sign-in")
    async def sign_in(request: Request) -> Response:
        if not cfg.enabled:
            return render("off.html", 404)
        form = await request.form()
        nxt = _local(str(form.get("next") or "/"))
        if not access.token_ok(str(form.get("token") or "")):
            return render("sign_in.html", 401, next=nxt, error="that is not the admin token")
        resp = RedirectResponse(nxt, status_code=303)
        resp.set_cookie(COOKIE, access.new_session("admin"), max_age=int(cfg.session_hours * 3600),
                        httponly=True, samesite="strict", secure=request.url.scheme == "https",
                        path="/")  # fmt: skip
        return resp

    @router.post("/console/sign-out")
    async def sign_out(request: Request) -> Response:
        resp = RedirectResponse("/console/sign-in", status_code=303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    return router


def _local(path: str) -> str:
    """Only a path on this site (no open redirect to another host)."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"
