"""The HTTP API: POST /webhooks/github, GET /healthz, GET /metrics, /setup, and
the console at / (flows.server.console)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from flows.server.bodies import BodyBudget, Refused, read_body
from flows.server.console.pages import console_router
from flows.server.ingest import signature_ok
from flows.server.registration import registration_router
from flows.server.service import Service

log = logging.getLogger("flows.server")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(service: Service, workers: int = 0) -> FastAPI:
    """The ASGI app; `workers` threads claim jobs while it is up."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        service.start_workers(workers)
        yield
        await run_in_threadpool(service.stop_workers)

    app = FastAPI(title="flows", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.include_router(registration_router(service))
    app.include_router(console_router(service))
    metrics = service.metrics
    bodies = BodyBudget(service.cfg.server.pending_bodies_mb * 2**20)

    def count(outcome: str) -> None:
        metrics.inc("flows_webhooks_total", "Webhook deliveries by outcome", outcome=outcome)

    @app.post("/webhooks/github")
    async def webhook(request: Request) -> JSONResponse:
        start = time.perf_counter()
        secret = service.capabilities.webhook_secret
        if not secret:
            count("unconfigured")
            return _error(503, "no webhook secret is configured: set github.webhook_secret "
                          "or register the App at /setup")  # fmt: skip
        raw = await read_body(request, bodies, service.cfg.server.body_timeout_s)
        if isinstance(raw, Refused):
            count(raw.outcome)
            if raw.outcome == "disconnected":
                log.info("a client went away mid-body")
            return _error(raw.status, raw.message)
        if not signature_ok(secret, raw, request.headers.get("x-hub-signature-256")):
            count("bad_signature")
            log.warning("rejected a delivery with a bad or missing signature")
            return _error(401, "bad or missing X-Hub-Signature-256")
        delivery = request.headers.get("x-github-delivery") or ""
        event = request.headers.get("x-github-event") or ""
        if not event or not delivery or len(delivery) > 64 or len(event) > 64:
            delivery = f"invalid-{uuid.uuid4()}"
            outcome = await run_in_threadpool(service.ingest.accept, delivery, "unknown", b"")
            count("malformed")
            return _error(400, "X-GitHub-Event and X-GitHub-Delivery (up to 64 chars) are required")
        outcome = await run_in_threadpool(service.ingest.accept, delivery, event, raw)
        kind = (
            "malformed" if outcome.status_code == 400
            else "duplicate" if outcome.body.get("duplicate")
            else "skipped" if "skipped" in outcome.body
            else "accepted"
        )  # fmt: skip
        count(kind)
        metrics.inc("flows_webhook_seconds_sum", "Time to acknowledge deliveries",
                    time.perf_counter() - start)  # fmt: skip
        metrics.inc("flows_webhook_seconds_count", "Deliveries acknowledged")
        return JSONResponse(outcome.body, status_code=outcome.status_code)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        try:
            with service.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            db = "ok"
        except Exception as e:
            db = f"unreachable: {type(e).__name__}"
        # unauthenticated: up or not, nothing about what runs here
        body = {"ok": db == "ok", "database": db}
        return JSONResponse(body, status_code=200 if body["ok"] else 503)

    @app.get("/metrics")
    def prometheus() -> PlainTextResponse:
        jobs = {k: float(v) for k, v in service.queue.counts().items()}
        gauges = {"flows_jobs": ("Jobs by state", jobs)}
        return PlainTextResponse(metrics.render(gauges), media_type="text/plain; version=0.0.4")

    return app
