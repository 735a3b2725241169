"""findings and knowledge

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 08:19:09.825835
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("installation_id", sa.BigInteger(), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("rule", sa.String(length=128), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("symbol", sa.String(length=255), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("pr_number", sa.Integer(), nullable=False),
        sa.Column("comment_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("installation_id", "repository", "fingerprint", name="uq_findings_fp"),
    )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index("ix_findings_comment", ["comment_id"], unique=False)
        batch_op.create_index(
            "ix_findings_rule", ["installation_id", "repository", "rule", "path"], unique=False
        )

    op.create_table(
        "knowledge",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("installation_id", sa.BigInteger(), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=255), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("paths", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("knowledge", schema=None) as batch_op:
        batch_op.create_index(
            "ix_knowledge_repo", ["installation_id", "repository", "kind"], unique=False
        )
    _create_search()


def downgrade() -> None:
    _drop_search()
    with op.batch_alter_table("knowledge", schema=None) as batch_op:
        batch_op.drop_index("ix_knowledge_repo")

    op.drop_table("knowledge")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index("ix_findings_rule")
        batch_op.drop_index("ix_findings_comment")

    op.drop_table("findings")


# Text search over knowledge.text: SQLite FTS5 (kept in step by triggers) or a
# PostgreSQL GIN index on to_tsvector. Neither is in the models' metadata; the
# autogenerate check skips them (flows.db.migrate.include_object).
_SQLITE_UP = [
    "CREATE VIRTUAL TABLE knowledge_fts USING fts5(text, content='knowledge', content_rowid='id')",
    "CREATE TRIGGER knowledge_ai AFTER INSERT ON knowledge BEGIN "
    "INSERT INTO knowledge_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER knowledge_ad AFTER DELETE ON knowledge BEGIN "
    "INSERT INTO knowledge_fts(knowledge_fts, rowid, text) VALUES('delete', old.id, old.text); END",
    "CREATE TRIGGER knowledge_au AFTER UPDATE ON knowledge BEGIN "
    "INSERT INTO knowledge_fts(knowledge_fts, rowid, text) VALUES('delete', old.id, old.text); "
    "INSERT INTO knowledge_fts(rowid, text) VALUES (new.id, new.text); END",
]
_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS knowledge_au",
    "DROP TRIGGER IF EXISTS knowledge_ad",
    "DROP TRIGGER IF EXISTS knowledge_ai",
    "DROP TABLE IF EXISTS knowledge_fts",
]
_PG_UP = [
    "CREATE INDEX ix_knowledge_fts ON knowledge USING gin (to_tsvector('english', text))",
]
_PG_DOWN = ["DROP INDEX IF EXISTS ix_knowledge_fts"]


def _create_search() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for sql in _SQLITE_UP if sqlite else _PG_UP:
        op.execute(sql)


def _drop_search() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for sql in _SQLITE_DOWN if sqlite else _PG_DOWN:
        op.execute(sql)
