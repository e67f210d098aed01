"""Tables. Money is integer micro-USD, times are aware UTC, ids are prefixed strings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from keyplane.store.ids import new_id
from keyplane.store.types import BudgetType, RateLimitsType, StrEnumType, UTCDateTime, utcnow
from keyplane.values.kinds import KeyKind, OwnerType, PermissionMode, ProjectStatus, Role
from keyplane.values.limits import Budget, RateLimits


class Base(DeclarativeBase):
    type_annotation_map = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
        RateLimits: RateLimitsType,
        Budget: BudgetType,
    }


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("org"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    webhook_secret: Mapped[str | None] = mapped_column(String(100))
    # The organisation's spend limit (OpenAI's ``organization/spend_limit``), over every project.
    budget: Mapped[Budget | None]


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("user"))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("organization_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("mem"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[Role] = mapped_column(StrEnumType(Role, 20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (Index("ix_projects_org_created", "organization_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("proj"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[ProjectStatus] = mapped_column(
        StrEnumType(ProjectStatus, 20), default=ProjectStatus.ACTIVE
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[datetime | None]
    rate_limits: Mapped[RateLimits | None]
    budget: Mapped[Budget | None]
    # Per-model limits: model name -> OpenAI's ``max_*`` fields (``limits/policy.ModelLimits``).
    model_rate_limits: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Which models the project's keys may call: ``allow_list`` or ``deny_list`` of
    # ``model_ids``, beside each key's own allow-list; None lets every model through.
    model_permissions_mode: Mapped[str | None] = mapped_column(String(20))
    model_ids: Mapped[list[str]] = mapped_column(default=list)


class ServiceAccount(Base):
    """A project's non-human member; its keys are ``ApiKey`` rows it owns (``owner_id``)."""

    __tablename__ = "service_accounts"
    __table_args__ = (
        Index("ix_service_accounts_project_created", "project_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("sa"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default="member")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]


class ApiKey(Base):
    """A key: its identity, owner, permissions and state. Secrets live in ``ApiKeySecret``."""

    __tablename__ = "api_keys"
    __table_args__ = (
        Index("ix_api_keys_project_created", "project_id", "created_at", "id"),
        Index("ix_api_keys_org_kind", "organization_id", "kind"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("key"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id"))
    kind: Mapped[KeyKind] = mapped_column(StrEnumType(KeyKind, 10))
    name: Mapped[str] = mapped_column(String(200))
    redacted_value: Mapped[str] = mapped_column(String(80))
    owner_type: Mapped[OwnerType] = mapped_column(StrEnumType(OwnerType, 30))
    owner_id: Mapped[str | None] = mapped_column(String(40))
    created_by: Mapped[str | None] = mapped_column(String(40))
    permissions_mode: Mapped[PermissionMode] = mapped_column(
        StrEnumType(PermissionMode, 20), default=PermissionMode.ALL
    )
    scopes: Mapped[list[str]] = mapped_column(default=list)
    allowed_models: Mapped[list[str]] = mapped_column(default=list)
    allowed_ips: Mapped[list[str]] = mapped_column(default=list)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(40))
    leaked_url: Mapped[str | None] = mapped_column(String(2000))
    rate_limits: Mapped[RateLimits | None]
    budget: Mapped[Budget | None]

    secrets: Mapped[list[ApiKeySecret]] = relationship(
        back_populates="api_key", order_by="ApiKeySecret.created_at"
    )


class ApiKeySecret(Base):
    """One secret of a key. Rotation adds one; the old one lives until ``expires_at``."""

    __tablename__ = "api_key_secrets"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("sec"))
    api_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    redacted_value: Mapped[str] = mapped_column(String(80))
    rotated_from_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]

    api_key: Mapped[ApiKey] = relationship(back_populates="secrets")


class IdempotencyRecord(Base):
    """Remembers an ``Idempotency-Key`` so a retried rotation rotates once.

    ``salt`` feeds the derivation of the new secret, so a replay can hand back the same
    secret without the plaintext ever being stored.
    """

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key_hash"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("idem"))
    scope: Mapped[str] = mapped_column(String(120))
    key_hash: Mapped[str] = mapped_column(String(64))
    salt: Mapped[str] = mapped_column(String(64))
    secret_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_org_created", "organization_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("audit"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    type: Mapped[str] = mapped_column(String(60), index=True)
    actor_type: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[str | None] = mapped_column(String(40), index=True)
    actor_label: Mapped[str | None] = mapped_column(String(200))
    target_type: Mapped[str | None] = mapped_column(String(30))
    target_id: Mapped[str | None] = mapped_column(String(40))
    # The project an event concerns, for OpenAI's ``project_ids[]`` filter and ``project``.
    project_id: Mapped[str | None] = mapped_column(String(40), index=True)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Instance(Base):
    """One row, written by the first bootstrap; its primary key makes bootstrapping race-free."""

    __tablename__ = "instance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    default_project_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    setup_token_hash: Mapped[str | None] = mapped_column(String(64))


class UsageCounterColumns:
    """The counters of ``keyplane.usage.counters.UsageCounters``, as columns of the tables
    that sum usage. Money in micro-USD."""

    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    error_requests: Mapped[int] = mapped_column(BigInteger, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cached_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_micro_usd: Mapped[int] = mapped_column(BigInteger, default=0)
    unpriced_requests: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_ms_total: Mapped[int] = mapped_column(BigInteger, default=0)
    reasoning_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    estimated_requests: Mapped[int] = mapped_column(BigInteger, default=0)


class UsageBucket(UsageCounterColumns, Base):
    """One minute of one key's calls to one model on one endpoint, through one upstream at one
    service tier. Money in micro-USD.

    ``provider`` is the name of the upstream that answered (``openai`` for the single upstream
    of the ``KEYPLANE_UPSTREAM_*`` settings; empty for verifications, which reach none);
    ``service_tier`` is what upstream said it served the call at (empty when it did not say).
    ``reasoning_tokens`` are part of ``output_tokens``, as OpenAI reports them;
    ``cache_write_tokens`` (Anthropic's cache creation) are part of ``input_tokens``.
    ``estimated_requests`` counts the calls whose tokens keyplane counted itself because
    upstream reported none (a stream cut short, say).

    ``width`` is the row's span in seconds: the meter writes minutes (60); the roll-up folds
    minutes past their retention into hours (3600), and hours into days (86400). A row of any
    width lies inside one aligned period of every coarser width, so sums over aligned ranges
    are exact whatever has been rolled up.
    """

    __tablename__ = "usage_buckets"
    __table_args__ = (
        UniqueConstraint(
            "bucket_start",
            "width",
            "api_key_id",
            "model",
            "endpoint",
            "provider",
            "service_tier",
            name="uq_usage_buckets_row",
        ),
        Index("ix_usage_org_start", "organization_id", "bucket_start"),
        Index("ix_usage_project_start", "project_id", "bucket_start"),
        # A key's budget is seeded from its rows, and its usage read, without a scan.
        Index("ix_usage_key_start", "api_key_id", "bucket_start"),
        # The roll-up finds the rows of one width past their retention.
        Index("ix_usage_width_start", "width", "bucket_start"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    bucket_start: Mapped[datetime]
    width: Mapped[int] = mapped_column(Integer, default=60)
    organization_id: Mapped[str] = mapped_column(String(40))
    project_id: Mapped[str] = mapped_column(String(40))
    api_key_id: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(200))
    endpoint: Mapped[str] = mapped_column(String(40))
    provider: Mapped[str] = mapped_column(String(64), default="")
    service_tier: Mapped[str] = mapped_column(String(32), default="")


# What makes a row of ``usage_days``: every column of a usage row but the key's and the width.
USAGE_DAY_ROW = (
    "day",
    "organization_id",
    "project_id",
    "model",
    "endpoint",
    "provider",
    "service_tier",
)


class UsageDay(UsageCounterColumns, Base):
    """One UTC day of one project's calls to one model on one endpoint, through one upstream
    at one service tier: the sums of ``usage_buckets`` without the key.

    The meter adds to it in the transaction that adds the minute rows, so it always equals
    the sum of ``usage_buckets`` over its day, whatever the roll-up has folded. Reports that
    are neither grouped nor filtered by key or user read it for their whole days: a 30-day
    report over a million keys reads a row per project, model and day, not one per key.
    """

    __tablename__ = "usage_days"
    __table_args__ = (
        UniqueConstraint(*USAGE_DAY_ROW, name="uq_usage_days_row"),
        Index("ix_usage_days_org_day", "organization_id", "day"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    day: Mapped[datetime]
    organization_id: Mapped[str] = mapped_column(String(40))
    project_id: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(200))
    endpoint: Mapped[str] = mapped_column(String(40))
    provider: Mapped[str] = mapped_column(String(64), default="")
    service_tier: Mapped[str] = mapped_column(String(32), default="")


class UsageTokenKind(Base):
    """Tokens of a kind that ``usage_buckets`` has no column for (``kind`` as upstream named
    it: ``completion_tokens_details.audio_tokens``, ``..accepted_prediction_tokens``...), per
    UTC day (``bucket_start`` at midnight), key, model, endpoint, upstream and tier: kept, not
    dropped, for whoever needs to bill or audit them."""

    __tablename__ = "usage_token_kinds"
    __table_args__ = (
        UniqueConstraint(
            "bucket_start",
            "api_key_id",
            "model",
            "endpoint",
            "provider",
            "service_tier",
            "kind",
            name="uq_usage_token_kinds_row",
        ),
        Index("ix_usage_token_kinds_org_start", "organization_id", "bucket_start"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    bucket_start: Mapped[datetime]
    organization_id: Mapped[str] = mapped_column(String(40))
    project_id: Mapped[str] = mapped_column(String(40))
    api_key_id: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(200))
    endpoint: Mapped[str] = mapped_column(String(40))
    provider: Mapped[str] = mapped_column(String(64), default="")
    service_tier: Mapped[str] = mapped_column(String(32), default="")
    kind: Mapped[str] = mapped_column(String(64))
    tokens: Mapped[int] = mapped_column(BigInteger, default=0)


class UsageBatch(Base):
    """A flushed batch of usage, by the id its instance gave it: a batch whose commit
    succeeded but whose acknowledgement was lost is recognised on retry and not added twice.
    """

    __tablename__ = "usage_batches"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)


class BudgetAlert(Base):
    """A budget threshold crossed in a period; the unique key makes each alert fire once."""

    __tablename__ = "budget_alerts"
    __table_args__ = (UniqueConstraint("scope_type", "scope_id", "period_start", "threshold"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("alert"))
    organization_id: Mapped[str] = mapped_column(String(40))
    scope_type: Mapped[str] = mapped_column(String(20))
    scope_id: Mapped[str] = mapped_column(String(40))
    period_start: Mapped[datetime]
    threshold: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class ProjectMember(Base):
    """A user's membership of a project, for the ``member`` role's per-project access."""

    __tablename__ = "project_members"
    __table_args__ = (UniqueConstraint("project_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("pmem"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A dashboard session; the cookie carries a token whose SHA-256 is ``id``."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class Invite(Base):
    """A one-time invitation link; only the token's hash is kept."""

    __tablename__ = "invites"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("inv"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[Role] = mapped_column(StrEnumType(Role, 20))
    project_ids: Mapped[list[str]] = mapped_column(default=list)
    created_by: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Failed logins per account, to slow down and lock out password guessing."""

    __tablename__ = "login_throttle"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
