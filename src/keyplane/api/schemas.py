"""Request and response bodies of the admin API, in OpenAI's Administration API shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from keyplane.api.owners import admin_key_owner, project_key_owner
from keyplane.keys.format import KeyKind
from keyplane.keys.permissions import PermissionMode, Permissions
from keyplane.limits.policy import MICRO, Budget, RateLimits, parse_budget, parse_rate_limits
from keyplane.services.owners import Owners
from keyplane.services.verification import permissions_of
from keyplane.store.models import ApiKey, Project
from keyplane.store.pagination import Page
from keyplane.values.kinds import ProjectStatus

UnixSeconds = Annotated[int, Field(ge=0, le=253402300799, description="Unix seconds")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
# The gateway refuses longer model names too (``http.documents.MAX_MODEL_NAME``).
ModelName = Annotated[str, Field(min_length=1, max_length=256)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def unix(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def from_unix(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


# --- limits -----------------------------------------------------------------------------

Positive = Annotated[int, Field(ge=1, le=10**12)]


class RateLimitsIn(Strict):
    requests_per_minute: Positive | None = None
    tokens_per_minute: Positive | None = None
    max_parallel_requests: Positive | None = None

    def to_domain(self) -> RateLimits | None:
        return parse_rate_limits(self.model_dump())


class BudgetIn(Strict):
    limit_usd: Decimal = Field(ge=0, le=10**12, description="US dollars, up to 6 decimals")
    period: Literal["day", "month", "total"] = "month"
    alert_thresholds: list[int] = Field(default_factory=list, max_length=20)

    def to_domain(self) -> Budget | None:
        return parse_budget(
            {
                "limit_usd": str(self.limit_usd),
                "period": self.period,
                "alert_thresholds": self.alert_thresholds,
            }
        )


class RateLimitsOut(BaseModel):
    requests_per_minute: int | None
    tokens_per_minute: int | None
    max_parallel_requests: int | None


class BudgetOut(BaseModel):
    limit_usd: float
    limit_micro_usd: int
    period: str
    alert_thresholds: list[int]


def rate_limits_out(value: RateLimits | None) -> RateLimitsOut | None:
    return None if value is None else RateLimitsOut(**value.to_json())


def budget_out(value: Budget | None) -> BudgetOut | None:
    """Dollars as a number, plus the exact integer of micro-USD."""
    if value is None:
        return None
    return BudgetOut(
        limit_usd=float(Decimal(value.limit_micro_usd) / MICRO),
        limit_micro_usd=value.limit_micro_usd,
        period=value.period.value,
        alert_thresholds=list(value.alert_thresholds),
    )


# --- projects ---------------------------------------------------------------------------


class ProjectCreate(Strict):
    name: Name
    rate_limits: RateLimitsIn | None = None
    budget: BudgetIn | None = None
    # OpenAI's: refused unless null (``api.unsupported``), never silently dropped.
    residency: str | None = None
    external_key_id: str | None = None
    geography: str | None = None


class ProjectUpdate(Strict):
    name: Name | None = None
    rate_limits: RateLimitsIn | None = None
    budget: BudgetIn | None = None
    external_key_id: str | None = None
    geography: str | None = None


class ProjectOut(BaseModel):
    object: Literal["organization.project"] = "organization.project"
    id: str
    name: str
    created_at: int
    archived_at: int | None
    status: Literal["active", "archived"]
    external_key_id: None = None  # keyplane encrypts with no external key
    rate_limits: RateLimitsOut | None = None
    budget: BudgetOut | None = None

    @classmethod
    def of(cls, project: Project) -> ProjectOut:
        return cls(
            id=project.id,
            name=project.name,
            created_at=unix(project.created_at) or 0,
            archived_at=unix(project.archived_at),
            status="archived" if project.status is ProjectStatus.ARCHIVED else "active",
            rate_limits=rate_limits_out(project.rate_limits),
            budget=budget_out(project.budget),
        )


# --- keys -------------------------------------------------------------------------------


class PermissionsIn(Strict):
    mode: PermissionMode = PermissionMode.ALL
    scopes: list[str] = Field(default_factory=list, max_length=50)

    def to_domain(self) -> Permissions:
        return Permissions(mode=self.mode, scopes=tuple(self.scopes))


class PermissionsOut(BaseModel):
    mode: PermissionMode
    scopes: list[str] = Field(description="the scopes the key holds, for every mode")


class ApiKeyCreate(Strict):
    name: Name
    kind: Literal["project", "service_account"] = "project"
    permissions: PermissionsIn = Field(default_factory=PermissionsIn)
    allowed_models: list[ModelName] = Field(default_factory=list, max_length=100)
    allowed_ips: list[str] = Field(default_factory=list, max_length=100)
    expires_at: UnixSeconds | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True
    rate_limits: RateLimitsIn | None = None
    budget: BudgetIn | None = None


class ApiKeyUpdate(Strict):
    name: Name | None = None
    permissions: PermissionsIn | None = None
    # OpenAI's: ``scopes`` restrict the key to them (``permissions`` mode restricted);
    # ``expires_in_seconds`` sets ``expires_at`` from now.
    scopes: list[str] | None = Field(default=None, max_length=50)
    expires_in_seconds: int | None = Field(default=None, ge=1, le=10 * 365 * 24 * 3600)
    allowed_models: list[ModelName] | None = Field(default=None, max_length=100)
    allowed_ips: list[str] | None = Field(default=None, max_length=100)
    expires_at: UnixSeconds | None = None
    metadata: dict[str, str] | None = None
    enabled: bool | None = None
    rate_limits: RateLimitsIn | None = None
    budget: BudgetIn | None = None


class RotateRequest(Strict):
    grace_period_seconds: int = Field(default=0, ge=0, le=30 * 24 * 3600)


class ApiKeyOut(BaseModel):
    object: Literal["organization.project.api_key"] = "organization.project.api_key"
    id: str
    name: str
    redacted_value: str
    kind: Literal["project", "service_account"]
    project_id: str
    owner: dict[str, Any] = Field(description="OpenAI's owner: a user or a service account")
    owner_project_access: Literal["active", "inactive"] = "active"
    created_at: int
    last_used_at: int | None
    expires_at: int | None
    revoked_at: int | None
    revoked_reason: str | None
    enabled: bool
    status: Literal["active", "disabled", "expired", "revoked"]
    permissions: PermissionsOut
    allowed_models: list[str]
    allowed_ips: list[str]
    metadata: dict[str, Any]
    rate_limits: RateLimitsOut | None = None
    budget: BudgetOut | None = None
    leaked_url: str | None = None

    @classmethod
    def of(cls, key: ApiKey, *, now: datetime, owners: Owners) -> ApiKeyOut:
        permissions = permissions_of(key)
        return cls(
            id=key.id,
            name=key.name,
            redacted_value=key.redacted_value,
            kind="service_account" if key.kind is KeyKind.SERVICE_ACCOUNT else "project",
            project_id=key.project_id or "",
            owner=project_key_owner(key, owners),
            owner_project_access="active" if owners.has_access(key) else "inactive",
            created_at=unix(key.created_at) or 0,
            last_used_at=unix(key.last_used_at),
            expires_at=unix(key.expires_at),
            revoked_at=unix(key.revoked_at),
            revoked_reason=key.revoked_reason,
            enabled=key.enabled,
            status=key_state(key, now=now),
            permissions=PermissionsOut(
                mode=permissions.mode, scopes=list(permissions.effective_scopes())
            ),
            allowed_models=list(key.allowed_models),
            allowed_ips=list(key.allowed_ips),
            metadata=dict(key.metadata_),
            rate_limits=rate_limits_out(key.rate_limits),
            budget=budget_out(key.budget),
            leaked_url=key.leaked_url,
        )


class CreatedApiKeyOut(ApiKeyOut):
    value: str = Field(description="The secret. Shown in this response only; store it now.")


class AdminKeyCreate(Strict):
    name: Name
    expires_in_seconds: int | None = Field(default=None, ge=1, le=365 * 24 * 3600)
    expires_at: UnixSeconds | None = None


class AdminKeyOut(BaseModel):
    object: Literal["organization.admin_api_key"] = "organization.admin_api_key"
    id: str
    name: str
    redacted_value: str
    owner: dict[str, Any]
    created_at: int
    expires_at: int | None
    last_used_at: int | None

    @classmethod
    def of(cls, key: ApiKey, *, owners: Owners) -> AdminKeyOut:
        return cls(
            id=key.id,
            name=key.name,
            redacted_value=key.redacted_value,
            owner=admin_key_owner(key, owners),
            created_at=unix(key.created_at) or 0,
            expires_at=unix(key.expires_at),
            last_used_at=unix(key.last_used_at),
        )


class CreatedAdminKeyOut(AdminKeyOut):
    value: str = Field(description="The secret. Shown in this response only; store it now.")


class Deleted(BaseModel):
    object: str
    id: str
    deleted: bool = True


def key_state(key: ApiKey, *, now: datetime) -> Literal["active", "disabled", "expired", "revoked"]:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active" if key.enabled else "disabled"


# --- verify -----------------------------------------------------------------------------


class VerifyRequest(Strict):
    key: str = Field(max_length=512)
    scopes: list[str] = Field(default_factory=list, max_length=50)
    cost: int = Field(
        default=0,
        ge=0,
        le=1_000_000,
        description="Requests to take from the key's requests_per_minute (0: only check).",
    )


class LimitUsage(BaseModel):
    limit: int
    remaining: int
    reset_seconds: float


class BudgetUsage(BaseModel):
    limit_micro_usd: int
    spent_micro_usd: int
    reserved_micro_usd: int
    remaining_micro_usd: int


class LimitsReport(BaseModel):
    """What is left in one scope (the key, or its project)."""

    scope: Literal["key", "project"]
    id: str
    requests: LimitUsage | None = None
    tokens: LimitUsage | None = None
    budget: BudgetUsage | None = None


class VerifyResponse(BaseModel):
    valid: bool
    code: str
    key_id: str | None = None
    kind: str | None = None
    name: str | None = None
    project_id: str | None = None
    permissions: PermissionsOut | None = None
    allowed_models: list[str] | None = None
    expires_at: int | None = None
    metadata: dict[str, Any] | None = None
    enabled: bool | None = None
    missing_scopes: list[str] | None = None
    rate_limits: RateLimitsOut | None = None
    budget: BudgetOut | None = None
    limits: list[LimitsReport] | None = None
    retry_after_seconds: float | None = None


# --- lists ------------------------------------------------------------------------------

Item = TypeVar("Item", bound=BaseModel)


class ListOut(BaseModel, Generic[Item]):
    object: Literal["list"] = "list"
    data: list[Item]
    first_id: str | None
    last_id: str | None
    has_more: bool

    @classmethod
    def of(cls, page: Page[Any], items: list[Item]) -> ListOut[Item]:
        return cls(data=items, first_id=page.first_id, last_id=page.last_id, has_more=page.has_more)
