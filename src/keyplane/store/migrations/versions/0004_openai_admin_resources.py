"""OpenAI's admin resources over keyplane's model: service accounts, per-model limits and
model permissions of projects, the organisation's spend limit, and the project of each
audit event

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:00:00

Existing projects get no per-model limits (``{}``) and no model permissions; existing audit
events get the project they name in their data (keys) or target (projects), so OpenAI's
``project_ids[]`` filter finds old events too.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import keyplane.store.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_accounts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_at", keyplane.store.types.UTCDateTime(), nullable=False),
        sa.Column("deleted_at", keyplane.store.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"]),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("service_accounts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_service_accounts_project_created",
            ["project_id", "created_at", "id"],
            unique=False,
        )

    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("model_rate_limits", sa.JSON(), nullable=False, server_default="{}")
        )
        batch_op.add_column(
            sa.Column("model_permissions_mode", sa.String(length=20), nullable=True)
        )
        batch_op.add_column(sa.Column("model_ids", sa.JSON(), nullable=False, server_default="[]"))

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("budget", sa.JSON(), nullable=True))

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("project_id", sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_events_project_id"), ["project_id"])

    events = sa.table(
        "audit_events",
        sa.column("id", sa.String()),
        sa.column("target_type", sa.String()),
        sa.column("target_id", sa.String()),
        sa.column("project_id", sa.String()),
    )
    op.execute(
        events.update()
        .where(events.c.target_type == "project")
        .values(project_id=events.c.target_id)
    )
    _project_ids_from_data()


def _project_ids_from_data() -> None:
    """Key events name their project in ``data``; JSON is read in Python, on both dialects."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT id, data FROM audit_events WHERE target_type = 'api_key'")
    ).all()
    table = sa.table("audit_events", sa.column("id"), sa.column("project_id"))
    for event_id, data in rows:
        if isinstance(data, str):
            data = json.loads(data)
        project_id = (data or {}).get("project_id")
        if project_id:
            connection.execute(
                table.update().where(table.c.id == event_id).values(project_id=project_id)
            )


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_project_id"))
        batch_op.drop_column("project_id")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("budget")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("model_ids")
        batch_op.drop_column("model_permissions_mode")
        batch_op.drop_column("model_rate_limits")
    with op.batch_alter_table("service_accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_service_accounts_project_created")
    op.drop_table("service_accounts")
