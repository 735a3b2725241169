"""What the console shows, read from the database (never a whole large body)."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows.db.models import Delivery, Installation, Job, Repository, Run
from flows.project.config import AppConfig
from flows.project.manifest import load_manifest, settings_problems

PAGE = 50
PAYLOAD_PAGE = 64 * 1024  # bytes of a raw body shown at once
PRETTY_MAX = 256 * 1024  # bodies up to this size are shown parsed and indented
DELIVERY_STATUSES = ("accepted", "malformed", "skipped", "ping")


# the installations an operator may see (None: every one)
Scope = frozenset[int] | None


def _deliveries_in(scope: frozenset[int]):  # type: ignore[no-untyped-def]
    return select(Delivery.id).where(Delivery.installation_id.in_(scope))


def _jobs(q, scope: Scope):  # type: ignore[no-untyped-def]
    return q if scope is None else q.where(Job.delivery_id.in_(_deliveries_in(scope)))


def _runs(q, scope: Scope):  # type: ignore[no-untyped-def]
    if scope is None:
        return q
    jobs = select(Job.id).where(Job.delivery_id.in_(_deliveries_in(scope)))
    return q.where(Run.job_id.in_(jobs))


def visible_delivery(s: Session, delivery_id: str, scope: Scope) -> bool:
    """Whether this delivery exists and belongs to an installation in scope."""
    inst = s.execute(select(Delivery.installation_id).where(Delivery.id == delivery_id)).first()
    return inst is not None and (scope is None or inst[0] in scope)


def visible_job(s: Session, job_id: int, scope: Scope) -> bool:
    delivery = s.scalar(select(Job.delivery_id).where(Job.id == job_id))
    return delivery is not None and visible_delivery(s, delivery, scope)


def visible_repository(s: Session, repo: str, scope: Scope) -> bool:
    if scope is None:
        return True
    q = select(Repository.id).where(
        func.lower(Repository.full_name) == repo.lower(), Repository.installation_id.in_(scope)
    )
    return s.execute(q.limit(1)).first() is not None


class BadFilter(ValueError):
    """A filter value the console cannot use; the message says which and why."""


@dataclass(frozen=True)
class DeliveryFilter:
    event: str | None = None
    repository: str | None = None
    status: str | None = None
    since_hours: float | None = None
    pr: int | None = None  # the pull request or issue number
    page: int = 1

    @classmethod
    def parse(cls, q: dict[str, str]) -> DeliveryFilter:
        unknown = set(q) - {"event", "repository", "status", "since_hours", "pr", "page"}
        if unknown:
            raise BadFilter(f"unknown filter {sorted(unknown)[0]!r} (known: event, repository, "
                            "status, since_hours, pr, page)")  # fmt: skip
        status = q.get("status") or None
        if status is not None and status not in DELIVERY_STATUSES:
            raise BadFilter(f"status {status!r} is not one of {', '.join(DELIVERY_STATUSES)}")
        try:
            since = float(q["since_hours"]) if q.get("since_hours") else None
            page = int(q.get("page") or 1)
            pr = int(q["pr"].lstrip("#")) if q.get("pr") else None
        except ValueError as e:
            raise BadFilter(f"since_hours is a number of hours, pr and page numbers: {e}") from None
        if since is not None and not 0 < since <= 24 * 365:
            raise BadFilter("since_hours must be more than 0 and at most 8760")
        if page < 1:
            raise BadFilter("page starts at 1")
        if pr is not None and pr < 1:
            raise BadFilter("pr is a pull request number, 1 or more")
        repo = q.get("repository") or None
        return cls(q.get("event") or None, repo, status, since, pr, page)


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, round(p * (len(values) - 1)))]


def overview(s: Session, scope: Scope = None, now: float | None = None) -> dict[str, Any]:
    now = now or time.time()
    day = now - 86400
    states = dict(
        s.execute(_jobs(select(Job.state, func.count()), scope).group_by(Job.state)).all()
    )
    runs = s.execute(_runs(
        select(Run.started_at, Run.status, Run.duration_ms, Run.flow,
               Run.prompt_tokens + Run.completion_tokens)
        .where(Run.started_at >= day), scope)
    ).all()  # fmt: skip
    hours = [{"ok": 0, "failed": 0} for _ in range(24)]
    for r in runs:
        slot = min(23, int((r[0] - day) // 3600))
        hours[slot]["ok" if r[1] == "ok" else "failed"] += 1
    reviews = [r[2] for r in runs if r[3] == "code-review" and r[1] == "ok"]
    failures = s.execute(
        _runs(select(Run.id, Run.flow, Run.repository, Run.error_kind, Run.error, Run.started_at)
              .where(Run.status != "ok"), scope)
        .order_by(Run.started_at.desc())
        .limit(10)
    ).all()  # fmt: skip
    days = [0] * 14  # model tokens per UTC day, oldest first, today last
    today = int(now // 86400)
    for started, tokens in s.execute(_runs(
        select(Run.started_at, Run.prompt_tokens + Run.completion_tokens)
        .where(Run.started_at >= (today - 13) * 86400), scope)
    ).all():  # fmt: skip
        days[min(13, max(0, int(started // 86400) - (today - 13)))] += tokens or 0
    holders = s.execute(
        _jobs(select(Job.leased_by, func.count())
              .where(Job.state == "running", Job.lease_expires_at >= now), scope)
        .group_by(Job.leased_by)
    ).all()  # fmt: skip
    return {
        "queue": states,
        "tokens_by_day": days,
        "token_peak": max([*days, 1]),
        "holders": holders,
        "hours": hours,
        "runs_24h": len(runs),
        "failed_24h": sum(1 for r in runs if r[1] != "ok"),
        "review_p50_ms": _percentile(reviews, 0.5),
        "review_p95_ms": _percentile(reviews, 0.95),
        "tokens_24h": sum(r[4] or 0 for r in runs),
        "failures": failures,
    }


def deliveries(
    s: Session, f: DeliveryFilter, scope: Scope = None, now: float | None = None
) -> list[Any]:
    q = select(Delivery.id, Delivery.event, Delivery.action, Delivery.repository,
               Delivery.status, Delivery.note, Delivery.received_at)  # fmt: skip
    if scope is not None:
        q = q.where(Delivery.installation_id.in_(scope))
    if f.event:
        q = q.where(Delivery.event == f.event)
    if f.repository:
        q = q.where(func.lower(Delivery.repository) == f.repository.lower())
    if f.status:
        q = q.where(Delivery.status == f.status)
    if f.since_hours:
        q = q.where(Delivery.received_at >= (now or time.time()) - f.since_hours * 3600)
    if f.pr is not None:  # a job's concurrency key ends with "#<number>"
        q = q.where(
            Delivery.id.in_(select(Job.delivery_id).where(Job.concurrency_key.like(f"%#{f.pr}")))
        )
    q = q.order_by(Delivery.received_at.desc()).offset((f.page - 1) * PAGE).limit(PAGE + 1)
    return list(s.execute(q).all())


def delivery(
    s: Session, delivery_id: str, page: int = 1, scope: Scope = None
) -> dict[str, Any] | None:
    if not visible_delivery(s, delivery_id, scope):
        return None
    row = s.execute(
        select(Delivery.id, Delivery.event, Delivery.action, Delivery.repository,
               Delivery.installation_id, Delivery.status, Delivery.note, Delivery.received_at,
               func.length(Delivery.body))
        .where(Delivery.id == delivery_id)
    ).first()  # fmt: skip
    if row is None:
        return None
    size = row[8] or 0
    if size <= PRETTY_MAX:
        raw = s.scalar(select(Delivery.body).where(Delivery.id == delivery_id)) or b""
        text = raw.decode("utf-8", "replace")
        with contextlib.suppress(ValueError):  # a malformed delivery: shown as it came
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        pages = 1
    else:
        pages = -(-size // PAYLOAD_PAGE)
        page = min(max(1, page), pages)
        start = (page - 1) * PAYLOAD_PAGE + 1
        chunk = s.scalar(
            select(func.substr(Delivery.body, start, PAYLOAD_PAGE)).where(
                Delivery.id == delivery_id
            )
        )
        text = bytes(chunk or b"").decode("utf-8", "replace")
    jobs = s.execute(
        select(Job.id, Job.flow, Job.state, Job.attempts, Job.last_error)
        .where(Job.delivery_id == delivery_id)
        .order_by(Job.id)
    ).all()
    return {"d": row, "size": size, "payload": text, "page": page, "pages": pages, "jobs": jobs}


def job(s: Session, job_id: int, scope: Scope = None) -> dict[str, Any] | None:
    j = s.get(Job, job_id)
    if j is None or not visible_job(s, job_id, scope):
        return None
    runs = s.execute(
        select(Run.id, Run.status, Run.error_kind, Run.error, Run.started_at, Run.duration_ms)
        .where(Run.job_id == job_id)
        .order_by(Run.started_at.desc())
    ).all()
    return {"j": j, "runs": runs}


def run(s: Session, run_id: str, scope: Scope = None) -> dict[str, Any] | None:
    r = s.get(Run, run_id)
    if r is None or (
        scope is not None and (r.job_id is None or not visible_job(s, r.job_id, scope))
    ):
        return None
    try:
        report = json.loads(r.report)
    except ValueError:
        report = {}
    return {"r": r, "report": report if isinstance(report, dict) else {}}


def installations(s: Session, scope: Scope = None) -> list[tuple[Any, list[Any]]]:
    """Each installation with the repositories it reaches (removed ones last)."""
    q = select(Installation).order_by(Installation.account)
    insts = list(s.scalars(q if scope is None else q.where(Installation.id.in_(scope))))
    repos = s.scalars(select(Repository).order_by(Repository.removed, Repository.full_name))
    by_inst: dict[int, list[Any]] = {}
    for r in repos:
        by_inst.setdefault(r.installation_id, []).append(r)
    return [(i, by_inst.get(i.id, [])) for i in insts]


def flows(s: Session, cfg: AppConfig, scope: Scope = None) -> list[dict[str, Any]]:
    """Each flow as app.yaml sets it up, with its schema and latest runs."""
    out = []
    for name, flow in cfg.flows.items():
        manifest = load_manifest(flow.function)
        schema = manifest.settings_schema if manifest else None
        recent = s.execute(
            _runs(
                select(Run.id, Run.status, Run.error_kind, Run.repository, Run.started_at).where(
                    Run.flow == name
                ),
                scope,
            )
            .order_by(Run.started_at.desc())
            .limit(10)
        ).all()
        out.append({"name": name, "flow": flow, "schema": schema, "runs": recent,
                    "problems": settings_problems(flow.settings, schema, f"flows.{name}.settings")
                    if schema else []})  # fmt: skip
    return out
