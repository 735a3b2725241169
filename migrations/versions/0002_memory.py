"""memory

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 08:13:54.810300
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "memory",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("installation_id", sa.BigInteger(), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("thread", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("installation_id", "repository", "thread", "key", name="uq_memory_key"),
    )
    with op.batch_alter_table("memory", schema=None) as batch_op:
        batch_op.create_index("ix_memory_expires", ["expires_at"], unique=False)
        batch_op.create_index(
            "ix_memory_repo", ["installation_id", "repository", "updated_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("memory", schema=None) as batch_op:
        batch_op.drop_index("ix_memory_repo")
        batch_op.drop_index("ix_memory_expires")

    op.drop_table("memory")
