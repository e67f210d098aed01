"""usage_days: the day sums of usage_buckets without the key, for reports over many keys

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import keyplane.store.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GROUPED = "organization_id, project_id, model, endpoint, provider, service_tier"
_COUNTERS = (
    "requests",
    "error_requests",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cost_micro_usd",
    "unpriced_requests",
    "latency_ms_total",
    "reasoning_tokens",
    "cache_write_tokens",
    "estimated_requests",
)
# The UTC day a row starts in, as each dialect stores a UTCDateTime (SQLite: the text
# SQLAlchemy writes, microseconds included, so that it compares with bound values).
_DAY = {
    "postgresql": "date_trunc('day', bucket_start)",
    "sqlite": "strftime('%Y-%m-%d 00:00:00.000000', bucket_start)",
}


def upgrade() -> None:
    op.create_table(
        "usage_days",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", keyplane.store.types.UTCDateTime(), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("endpoint", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("service_tier", sa.String(length=32), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _COUNTERS),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "day",
            "organization_id",
            "project_id",
            "model",
            "endpoint",
            "provider",
            "service_tier",
            name="uq_usage_days_row",
        ),
    )
    with op.batch_alter_table("usage_days", schema=None) as batch_op:
        batch_op.create_index("ix_usage_days_org_day", ["organization_id", "day"], unique=False)
    # Usage written before this revision, summed by the day: every tier of usage_buckets lies
    # inside one day, so the sums are exact. One statement, in the migration's transaction.
    day = _DAY[op.get_bind().dialect.name]
    sums = ", ".join(f"SUM({name})" for name in _COUNTERS)
    op.execute(
        f"INSERT INTO usage_days (day, {_GROUPED}, {', '.join(_COUNTERS)}) "  # noqa: S608
        f"SELECT {day}, {_GROUPED}, {sums} FROM usage_buckets GROUP BY {day}, {_GROUPED}"
    )


def downgrade() -> None:
    with op.batch_alter_table("usage_days", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_days_org_day")
    op.drop_table("usage_days")
