"""SQL tables: installations, repositories, deliveries, jobs and runs.

Times are UNIX seconds (float), the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Installation(Base):
    """A GitHub App installation, kept current by `installation` events."""

    __tablename__ = "installations"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    account: Mapped[str] = mapped_column(String(255), default="")
    account_type: Mapped[str] = mapped_column(String(32), default="")
    # active, suspended or deleted
    status: Mapped[str] = mapped_column(String(16), default="active")
    updated_at: Mapped[float] = mapped_column(Float)


class Repository(Base):
    """A repository an installation can reach."""

    __tablename__ = "repositories"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    installation_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("installations.id", ondelete="CASCADE"), index=True
    )
    full_name: Mapped[str] = mapped_column(String(255), index=True)
    removed: Mapped[bool] = mapped_column(default=False)


class Delivery(Base):
    """One webhook delivery as GitHub sent it (the raw body is kept)."""

    __tablename__ = "deliveries"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event: Mapped[str] = mapped_column(String(64))
    action: Mapped[str | None] = mapped_column(String(64))
    installation_id: Mapped[int | None] = mapped_column(BigInteger)
    repository: Mapped[str | None] = mapped_column(String(255))
    # accepted, malformed, skipped or ping
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[float] = mapped_column(Float, index=True)


class Job(Base):
    """One flow to run for one delivery."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("delivery_id", "flow", name="uq_jobs_delivery_flow"),
        Index("ix_jobs_claim", "state", "next_attempt_at"),
        Index("ix_jobs_key", "concurrency_key", "state"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("deliveries.id", ondelete="CASCADE")
    )
    flow: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    action: Mapped[str | None] = mapped_column(String(64))
    # runs with the same key (flow + repository + PR) never overlap
    concurrency_key: Mapped[str | None] = mapped_column(String(320))
    # queued, running, done, failed, dead or superseded
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    lease_expires_at: Mapped[float | None] = mapped_column(Float)
    leased_by: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float)


class Run(Base):
    """One attempt at a job: its status, reason, usage and report."""

    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    job_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("jobs.id", ondelete="CASCADE"), index=True
    )
    flow: Mapped[str] = mapped_column(String(64))
    repository: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    error_kind: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[float] = mapped_column(Float, index=True)
    duration_ms: Mapped[float] = mapped_column(Float)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    # the JSON run report (logs, writes, resources)
    report: Mapped[str] = mapped_column(Text)


class MemoryItem(Base):
    """One remembered value, partitioned by installation and repository.

    `thread` is the pull request (or issue) number for short-term memory, and
    0 for the repository's long-term memory."""

    __tablename__ = "memory"
    __table_args__ = (
        UniqueConstraint("installation_id", "repository", "thread", "key", name="uq_memory_key"),
        Index("ix_memory_repo", "installation_id", "repository", "updated_at"),
        Index("ix_memory_expires", "expires_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    installation_id: Mapped[int] = mapped_column(BigInteger)
    repository: Mapped[str] = mapped_column(String(255))  # lower-case owner/name
    thread: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(512))
    value: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    # set when the pull request closes: forgotten after the retention period
    expires_at: Mapped[float | None] = mapped_column(Float)


class Finding(Base):
    """A finding a flow reported, and what maintainers said of it."""

    __tablename__ = "findings"
    __table_args__ = (
        UniqueConstraint("installation_id", "repository", "fingerprint", name="uq_findings_fp"),
        Index("ix_findings_rule", "installation_id", "repository", "rule", "path"),
        Index("ix_findings_comment", "comment_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    installation_id: Mapped[int] = mapped_column(BigInteger)
    repository: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(128))
    rule: Mapped[str] = mapped_column(String(128))
    path: Mapped[str] = mapped_column(String(1024))
    symbol: Mapped[str] = mapped_column(String(255), default="")
    title: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16))
    pr_number: Mapped[int] = mapped_column(Integer)
    # the inline review comment that carries it, when there is one
    comment_id: Mapped[int | None] = mapped_column(BigInteger)
    # open, dismissed or accepted
    status: Mapped[str] = mapped_column(String(16), default="open")
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class Knowledge(Base):
    """Long-term text a repository's reviews draw on: conventions the team
    stated, and short summaries of merged pull requests by file."""

    __tablename__ = "knowledge"
    __table_args__ = (Index("ix_knowledge_repo", "installation_id", "repository", "kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    installation_id: Mapped[int] = mapped_column(BigInteger)
    repository: Mapped[str] = mapped_column(String(255))
    # convention or pr
    kind: Mapped[str] = mapped_column(String(16))
    # the pull request number for kind pr; who said it for a convention
    ref: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    # the files it is about, one per line, with a newline before and after
    paths: Mapped[str] = mapped_column(Text, default="\n")
    created_at: Mapped[float] = mapped_column(Float)
