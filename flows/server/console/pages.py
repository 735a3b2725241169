"""The console's routes: server-rendered pages (Jinja2, autoescaped, every
value redacted) and the POST actions behind a session and its CSRF token."""

from __future__ import annotations

import hmac
import re
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from flows.db import sessions, transaction
from flows.server.console import actions, data, oauth
from flows.server.console.access import COOKIE, Access, Operator
from flows.server.service import Service

TEMPLATES = Path(__file__).parent / "templates"
OAUTH_COOKIE = "flows_oauth"  # the sign-in with GitHub under way: its state and next page


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
    web = service.cfg.github.web_url
    env.filters["write_link"] = lambda write: write_link(write, web)
    return env


_THREAD = re.compile(r"/repos/([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)/(?:issues|pulls)/(\d+)(?:/|$)")


def write_link(write: dict, web_url: str) -> str:
    """Where a GitHub write can be read: the comment or review GitHub answered
    with, else its pull request ("" if neither)."""
    url = write.get("html_url")
    if isinstance(url, str) and url.startswith(web_url.rstrip("/") + "/"):
        return url
    return github_link(str(write.get("path") or ""), web_url)


def github_link(path: str, web_url: str = "https://github.com") -> str:
    """The pull request or issue a write went to, on GitHub's web ("" if none)."""
    m = _THREAD.match(path)
    return f"{web_url.rstrip('/')}/{m.group(1)}/pull/{m.group(2)}" if m else ""


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

    def github_ready() -> bool:
        app = service.capabilities.app
        return app is not None and bool(app.client_id) and bool(app.client_secret)

    def sign_in_page(status: int, nxt: str, error: str) -> Response:
        return render("sign_in.html", status, next=nxt, error=error, github=github_ready(),
                      token=cfg.admin_token is not None)  # fmt: skip

    def missing(op: Operator, what: str) -> Response:
        return render("message.html", 404, op, title="Not found", message=f"no {what}")

    def tx(fn, *args):  # type: ignore[no-untyped-def]
        """`fn(session, *args)` in a transaction of its own."""
        with transaction(factory) as s:
            return fn(s, *args)

    def show(request: Request, template: str, load, what: str = "") -> Response:  # type: ignore[no-untyped-def]
        """A page behind the gate: `load(operator)` gives its values (None: 404 for `what`)."""
        op = gate(request)
        if not isinstance(op, Operator):
            return op
        values = load(op)
        if values is None:
            return missing(op, what)
        return render(template, op=op, **values)

    @router.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> Response:
        def load(op: Operator):  # type: ignore[no-untyped-def]
            view = tx(data.overview, op.scope)
            pool = service.pool
            return {"v": view, "peak": max([h["ok"] + h["failed"] for h in view["hours"]] + [1]),
                    "threads": (pool.alive(), len(pool.workers)) if pool else (0, 0),
                    "up_s": time.time() - service.started}  # fmt: skip

        return show(request, "overview.html", load)

    @router.get("/deliveries", response_class=HTMLResponse)
    def deliveries(request: Request) -> Response:
        try:
            f = data.DeliveryFilter.parse(dict(request.query_params))
        except data.BadFilter as e:
            op = gate(request)
            if not isinstance(op, Operator):
                return op
            return render("message.html", 400, op, title="Bad filter", message=str(e))

        def load(op: Operator):  # type: ignore[no-untyped-def]
            rows = tx(data.deliveries, f, op.scope)
            return {"rows": rows[: data.PAGE], "f": f, "more": len(rows) > data.PAGE,
                    "statuses": data.DELIVERY_STATUSES}  # fmt: skip

        return show(request, "deliveries.html", load)

    def one(key: str, found):  # type: ignore[no-untyped-def]
        return None if found is None else {key: found}

    @router.get("/deliveries/{delivery_id}", response_class=HTMLResponse)
    def delivery(request: Request, delivery_id: str, page: int = 1) -> Response:
        load = lambda op: one("v", tx(data.delivery, delivery_id, page, op.scope))  # noqa: E731
        return show(request, "delivery.html", load, f"delivery {delivery_id}")

    @router.get("/jobs/{job_id}", response_class=HTMLResponse)
    def job(request: Request, job_id: int) -> Response:
        return show(
            request,
            "job.html",
            lambda op: one("v", tx(data.job, job_id, op.scope)),
            f"job {job_id}",
        )

    @router.get("/runs/{run_id}", response_class=HTMLResponse)
    def run(request: Request, run_id: str) -> Response:
        return show(
            request,
            "run.html",
            lambda op: one("v", tx(data.run, run_id, op.scope)),
            f"run {run_id}",
        )

    @router.get("/installations", response_class=HTMLResponse)
    def installations(request: Request) -> Response:
        return show(
            request, "installations.html", lambda op: {"rows": tx(data.installations, op.scope)}
        )

    @router.get("/flows", response_class=HTMLResponse)
    def flows(request: Request) -> Response:
        return show(
            request, "flows.html", lambda op: {"rows": tx(data.flows, service.cfg, op.scope)}
        )

    knowledge = service.capabilities.knowledge_store()

    @router.get("/repos/{owner}/{name}", response_class=HTMLResponse)
    def repository(request: Request, owner: str, name: str) -> Response:
        repo = f"{owner}/{name}"

        def load(op: Operator):  # type: ignore[no-untyped-def]
            if not tx(data.visible_repository, repo, op.scope):
                return None

            def mine(rows):  # type: ignore[no-untyped-def]
                return [r for r in rows if op.scope is None or r.installation_id in op.scope]

            return {"repo": repo, "items": mine(service.memory.items(repo)),
                    "findings": mine(knowledge.findings(repo)),
                    "entries": mine(knowledge.entries(repo))}  # fmt: skip

        return show(request, "repository.html", load, f"repository {repo} you may see")

    @router.post("/repos/{owner}/{name}/forget")
    async def forget(request: Request, owner: str, name: str) -> Response:
        repo = f"{owner}/{name}"
        form = await request.form()

        back = f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"

        def do(op: Operator) -> actions.Outcome:
            if not tx(data.visible_repository, repo, op.scope):
                return actions.Outcome(False, f"no repository {repo} you may see")
            return actions.forget(service.memory, knowledge, repo, dict(form))

        return await act(request, back, do)

    async def act(request: Request, back: str, do) -> Response:  # type: ignore[no-untyped-def]
        op = gate(request)
        if not isinstance(op, Operator):
            return op
        form = await request.form()
        given = request.headers.get("x-csrf-token") or str(form.get("csrf") or "")
        if not access.csrf_ok(op, given):
            why = "this form has no valid CSRF token: reload the page and try again"
            return render("message.html", 403, op, title="Refused", message=why)
        outcome = do(op)
        status = 200 if outcome.ok else 409
        return render("message.html", status, op, title="Done" if outcome.ok else "Not done",
                    message=outcome.message, back=back)  # fmt: skip

    @router.post("/jobs/{job_id}/retry")
    async def retry(request: Request, job_id: int) -> Response:
        return await act(
            request, f"/jobs/{job_id}", lambda op: tx(actions.retry, job_id, op.who, op.scope)
        )

    @router.post("/jobs/{job_id}/cancel")
    async def cancel(request: Request, job_id: int) -> Response:
        return await act(
            request, f"/jobs/{job_id}", lambda op: tx(actions.cancel, job_id, op.who, op.scope)
        )

    @router.post("/deliveries/{delivery_id}/redeliver")
    async def redeliver(request: Request, delivery_id: str) -> Response:
        back = f"/deliveries/{quote(delivery_id, safe='')}"
        return await act(
            request, back, lambda op: tx(actions.redeliver, delivery_id, op.who, op.scope)
        )

    @router.get("/console/sign-in", response_class=HTMLResponse)
    def sign_in_form(next: str = "/") -> Response:
        if not cfg.enabled:
            return render("off.html", 404)
        return sign_in_page(200, _local(next), "")

    @router.post("/console/sign-in")
    async def sign_in(request: Request) -> Response:
        if not cfg.enabled:
            return render("off.html", 404)
        form = await request.form()
        nxt = _local(str(form.get("next") or "/"))
        if not access.token_ok(str(form.get("token") or "")):
            why = "that is not the admin token"
            return sign_in_page(401, nxt, why)
        resp = RedirectResponse(nxt, status_code=303)
        resp.set_cookie(COOKIE, access.new_session("admin"), max_age=int(cfg.session_hours * 3600),
                        httponly=True, samesite="strict", secure=request.url.scheme == "https",
                        path="/")  # fmt: skip
        return resp

    @router.get("/console/sign-in/github")
    def sign_in_github(request: Request, next: str = "/") -> Response:
        if not cfg.enabled:
            return render("off.html", 404)
        app = service.capabilities.app
        if not github_ready():
            why = ("sign-in with GitHub needs the App's OAuth client id and secret "
                   "(register the App at /setup, which stores them)")  # fmt: skip
            return render("message.html", 409, title="Not available", message=why)
        nonce = secrets.token_hex(16)
        public = service.cfg.server.public_url
        callback = (f"{public.rstrip('/')}/console/oauth/callback" if public
                    else str(request.url_for("oauth_callback")))  # fmt: skip
        url = oauth.authorize_url(service.cfg.github, app.client_id, callback, nonce)
        resp = RedirectResponse(url, status_code=303)
        # Lax, not Strict: it must come back on GitHub's redirect to the callback
        resp.set_cookie(OAUTH_COOKIE, access.sign({"n": nonce, "next": _local(next)}, 600),
                        max_age=600, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/console/oauth")  # fmt: skip
        return resp

    @router.get("/console/oauth/callback", name="oauth_callback")
    def oauth_callback(
        request: Request, code: str = "", state: str = "", error: str = ""
    ) -> Response:
        if not cfg.enabled:
            return render("off.html", 404)
        started = access.unsign(request.cookies.get(OAUTH_COOKIE))
        if started is None or not state or not hmac.compare_digest(state, str(started["n"])):
            why = "this sign-in was not started here, or took over 10 minutes: start again"
            return sign_in_page(400, "/", why)
        if error or not code:
            why = f"GitHub did not sign you in ({error or 'no code'})"
            return sign_in_page(401, "/", why)
        app = service.capabilities.app
        try:
            if app is None or not app.client_id or not app.client_secret:
                raise oauth.SignInFailed("the App's OAuth client is no longer configured")
            gh = service.cfg.github
            token = oauth.token_for_code(gh, app.client_id, app.client_secret, code)
            login = oauth.login_of(gh, token)
            scope = None if access.admin_login(login) else oauth.administered(gh, token, login)
        except oauth.SignInFailed as e:
            return sign_in_page(502, "/", str(e))
        if scope is not None and not scope:
            why = (f"@{login} is not in console.admins and administers no installation "
                   "of this App")  # fmt: skip
            return sign_in_page(403, "/", why)
        resp = RedirectResponse(str(started.get("next") or "/"), status_code=303)
        resp.delete_cookie(OAUTH_COOKIE, path="/console/oauth")
        resp.set_cookie(COOKIE, access.new_session(f"@{login}", scope),
                        max_age=int(cfg.session_hours * 3600), httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")  # fmt: skip
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
