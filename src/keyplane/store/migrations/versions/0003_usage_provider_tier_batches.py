"""usage buckets by upstream and service tier, of a width (minute, hour, day), with
reasoning, cache-write and estimated counts; flushed usage batches remembered by id

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:40:00

The unique key of ``usage_buckets`` gains two columns, which SQLite cannot alter in place:
the table is made anew under a temporary name, filled from the old one, and renamed, on both
dialects alike. Rows written before this revision came from the one upstream keyplane had,
so the gateway's rows are marked ``openai``; verifications reach no upstream and stay empty.
Every row written before was a minute.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import keyplane.store.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNTERS_BEFORE = (
    "requests",
    "error_requests",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cost_micro_usd",
    "unpriced_requests",
    "latency_ms_total",
)
_KEPT = ("bucket_start", "organization_id", "project_id", "api_key_id", "model", "endpoint")


def _counter(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "usage_buckets_next",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bucket_start", keyplane.store.types.UTCDateTime(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("api_key_id", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("endpoint", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("service_tier", sa.String(length=32), nullable=False),
        *(_counter(name) for name in _COUNTERS_BEFORE),
        _counter("reasoning_tokens"),
        _counter("cache_write_tokens"),
        _counter("estimated_requests"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "bucket_start",
            "width",
            "api_key_id",
            "model",
            "endpoint",
            "provider",
            "service_tier",
            name="uq_usage_buckets_row",
        ),
    )
    copied = ", ".join((*_KEPT, *_COUNTERS_BEFORE))
    op.execute(
        f"INSERT INTO usage_buckets_next ({copied}, width, provider, service_tier, "  # noqa: S608
        "reasoning_tokens, cache_write_tokens, estimated_requests) "
        f"SELECT {copied}, 60, CASE WHEN endpoint = 'verify' THEN '' ELSE 'openai' END, '', "
        "0, 0, 0 FROM usage_buckets"
    )
    op.drop_table("usage_buckets")
    op.rename_table("usage_buckets_next", "usage_buckets")
    with op.batch_alter_table("usage_buckets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_org_start", ["organization_id", "bucket_start"], unique=False
        )
        batch_op.create_index(
            "ix_usage_project_start", ["project_id", "bucket_start"], unique=False
        )
        batch_op.create_index("ix_usage_key_start", ["api_key_id", "bucket_start"], unique=False)
        batch_op.create_index("ix_usage_width_start", ["width", "bucket_start"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # Named as if the table had always been called usage_buckets.
        op.execute("ALTER INDEX usage_buckets_next_pkey RENAME TO usage_buckets_pkey")
        op.execute("ALTER SEQUENCE usage_buckets_next_id_seq RENAME TO usage_buckets_id_seq")
    op.create_table(
        "usage_batches",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("applied_at", keyplane.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    # Rows that differ only by upstream or tier fold back into one; the new counts are dropped.
    # Rolled-up hours and days cannot be told apart from minutes any more: they stay whole.
    op.drop_table("usage_batches")
    op.create_table(
        "usage_buckets_before",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bucket_start", keyplane.store.types.UTCDateTime(), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("api_key_id", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("endpoint", sa.String(length=40), nullable=False),
        *(_counter(name) for name in _COUNTERS_BEFORE),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("bucket_start", "api_key_id", "model", "endpoint"),
    )
    kept = ", ".join(_KEPT)
    sums = ", ".join(f"SUM({name})" for name in _COUNTERS_BEFORE)
    op.execute(
        f"INSERT INTO usage_buckets_before ({kept}, {', '.join(_COUNTERS_BEFORE)}) "  # noqa: S608
        f"SELECT {kept}, {sums} FROM usage_buckets GROUP BY {kept}"
    )
    op.drop_table("usage_buckets")
    op.rename_table("usage_buckets_before", "usage_buckets")
    with op.batch_alter_table("usage_buckets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_org_start", ["organization_id", "bucket_start"], unique=False
        )
        batch_op.create_index(
            "ix_usage_project_start", ["project_id", "bucket_start"], unique=False
        )
