"""token kinds upstream reports that usage_buckets has no column for

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import keyplane.store.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "usage_token_kinds",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bucket_start", keyplane.store.types.UTCDateTime(), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("api_key_id", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("endpoint", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("service_tier", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "bucket_start",
            "api_key_id",
            "model",
            "endpoint",
            "provider",
            "service_tier",
            "kind",
            name="uq_usage_token_kinds_row",
        ),
    )
    with op.batch_alter_table("usage_token_kinds", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_token_kinds_org_start", ["organization_id", "bucket_start"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("usage_token_kinds", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_token_kinds_org_start")
    op.drop_table("usage_token_kinds")
