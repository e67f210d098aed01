"""The answer of ``POST /v1/keys/verify``, and the facts of a key that passed."""

from __future__ import annotations

import enum
from typing import Any

from pydantic import Field

from keyplane.sdk.models import Model, Permissions


class VerifyCode(enum.StrEnum):
    """Verdict codes. The server's, plus ``MISSING`` and ``UNAVAILABLE`` from the SDK itself."""

    VALID = "VALID"
    MALFORMED = "MALFORMED"
    NOT_FOUND = "NOT_FOUND"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    DISABLED = "DISABLED"
    PROJECT_ARCHIVED = "PROJECT_ARCHIVED"
    INSUFFICIENT_PERMISSIONS = "INSUFFICIENT_PERMISSIONS"
    RATE_LIMITED = "RATE_LIMITED"
    USAGE_EXCEEDED = "USAGE_EXCEEDED"
    MISSING = "MISSING"
    UNAVAILABLE = "UNAVAILABLE"


class VerifiedKey(Model):
    """A key that passed verification: what your handler may want to know about its caller."""

    key_id: str
    kind: str | None = None
    name: str | None = None
    project_id: str | None = None
    permissions: Permissions = Field(default_factory=Permissions)
    allowed_models: list[str] = Field(default_factory=list)
    expires_at: int | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class LimitUsage(Model):
    """One rate limit of a scope: its size, what is left, and seconds until it is whole again."""

    limit: int
    remaining: int
    reset_seconds: float


class BudgetUsage(Model):
    """A scope's budget in the current period, in integer micro-USD."""

    limit_micro_usd: int
    spent_micro_usd: int
    reserved_micro_usd: int
    remaining_micro_usd: int


class LimitsReport(Model):
    """What is left in one scope: the key itself, or its project."""

    scope: str
    id: str
    requests: LimitUsage | None = None
    tokens: LimitUsage | None = None
    budget: BudgetUsage | None = None


class VerifyResult(Model):
    """Always an answer: ``valid`` and a ``code`` (a ``VerifyCode``, or a newer server's own)."""

    valid: bool
    code: str
    key_id: str | None = None
    kind: str | None = None
    name: str | None = None
    project_id: str | None = None
    permissions: Permissions | None = None
    allowed_models: list[str] | None = None
    expires_at: int | None = None
    metadata: dict[str, Any] | None = None
    enabled: bool | None = None
    missing_scopes: list[str] | None = None
    limits: list[LimitsReport] | None = None
    retry_after_seconds: float | None = None

    def verified_key(self) -> VerifiedKey:
        """The key's facts; only for a valid result."""
        if not self.valid or self.key_id is None:
            raise ValueError(f"not a valid key ({self.code})")
        facts = self.model_dump(
            exclude={"valid", "code", "enabled", "missing_scopes", "limits", "retry_after_seconds"}
        )
        return VerifiedKey.model_validate({k: v for k, v in facts.items() if v is not None})


def refused(code: VerifyCode) -> VerifyResult:
    """A verdict the SDK reaches on its own, without the server."""
    return VerifyResult(valid=False, code=code)
