"""What the admin API answers, as typed models. Lenient: fields a newer server adds are kept."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class Model(BaseModel):
    """Base of the SDK's models: immutable, and tolerant of fields it does not know yet."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Permissions(Model):
    """``mode`` is ``all``, ``read_only`` or ``restricted``; ``scopes`` counts for restricted."""

    mode: str = "all"
    scopes: list[str] = Field(default_factory=list)


class Owner(Model):
    type: str
    id: str | None = None


class Project(Model):
    object: str = "organization.project"
    id: str
    name: str
    created_at: int
    archived_at: int | None = None
    status: str = "active"


class ApiKey(Model):
    """A project or service-account key, without its secret."""

    object: str = "organization.project.api_key"
    id: str
    name: str
    redacted_value: str
    kind: str
    project_id: str
    owner: Owner | None = None
    created_at: int
    last_used_at: int | None = None
    expires_at: int | None = None
    revoked_at: int | None = None
    revoked_reason: str | None = None
    enabled: bool = True
    status: str = "active"
    permissions: Permissions = Field(default_factory=Permissions)
    allowed_models: list[str] = Field(default_factory=list)
    allowed_ips: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class CreatedKey(ApiKey):
    """A key just created or rotated: ``value`` is its secret, shown this once."""

    value: SecretStr


class AdminKey(Model):
    object: str = "organization.admin_api_key"
    id: str
    name: str
    redacted_value: str
    owner: Owner | None = None
    created_at: int
    last_used_at: int | None = None


class CreatedAdminKey(AdminKey):
    """An admin key just created: ``value`` is its secret, shown this once."""

    value: SecretStr


class Deleted(Model):
    object: str
    id: str
    deleted: bool = True


class AuditActor(Model):
    type: str  # OpenAI's: session or api_key
    keyplane_type: str | None = None  # keyplane's: admin_key, user, system, leak_report
    id: str | None = None
    label: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None


class AuditTarget(Model):
    type: str | None = None
    id: str | None = None


class AuditEvent(Model):
    object: str = "organization.audit_log"
    id: str
    type: str  # OpenAI's closest event type
    keyplane_type: str | None = None  # keyplane's precise name (api_key.rotated, ...)
    effective_at: int
    actor: AuditActor
    target: AuditTarget = Field(default_factory=AuditTarget)
    data: dict[str, Any] = Field(default_factory=dict)


Item = TypeVar("Item", bound=BaseModel)


class Page(Model, Generic[Item]):
    """One page of a list endpoint; ``next_cursor`` is the ``after`` of the next page."""

    object: str = "list"
    data: list[Item]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False

    @property
    def next_cursor(self) -> str | None:
        return self.last_id if self.has_more else None
