"""Who may call the gateway: a valid project or service-account key, with the scope, the
model and the address the call needs. Every refusal is a ``KeyplaneError`` with its status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from keyplane.auth.cache import KeyCache
from keyplane.auth.principal import authenticated_key, bearer_token
from keyplane.errors import PermissionDeniedError, UnavailableError
from keyplane.gateway.network import ip_allowed
from keyplane.keys.format import KeyKind
from keyplane.keys.permissions import model_allowed
from keyplane.services.verification import permissions_of
from keyplane.store.database import STORE_UNREACHABLE
from keyplane.store.models import ApiKey, Project


@dataclass(frozen=True, slots=True)
class Grant:
    """A key allowed to make the call at hand."""

    key: ApiKey
    project: Project | None

    def allows_model(self, model: str) -> bool:
        return model_allowed(model, self.key.allowed_models) and self.project_allows(model)

    @property
    def narrows_models(self) -> bool:
        """Whether the key or its project keeps some models out (so listings are filtered)."""
        project = self.project
        return bool(self.key.allowed_models) or (
            project is not None and project.model_permissions_mode is not None
        )

    def project_allows(self, model: str) -> bool:
        """The project's model permissions: an allow list or a deny list of model ids."""
        project = self.project
        if project is None or project.model_permissions_mode is None:
            return True
        listed = bool(project.model_ids) and model_allowed(model, project.model_ids)
        return listed if project.model_permissions_mode == "allow_list" else not listed


class GatewayAccess:
    """Checks the bearer key of a call against the cache, its scopes and its IP allow-list."""

    def __init__(self, keys: KeyCache) -> None:
        self.keys = keys

    async def grant(
        self, *, authorization: str | None, client: str | None, scope: str, now: datetime
    ) -> Grant:
        """The grant for a call needing ``scope``, or the 401/403/503 that refuses it."""
        token = bearer_token(authorization)
        try:
            resolution = await self.keys.resolve(token, now=now)
        except STORE_UNREACHABLE:  # fail closed: no store, no call
            raise UnavailableError(
                "The key store is unreachable; try again shortly.", code="store_unavailable"
            ) from None
        key = authenticated_key(resolution)
        if key.kind is KeyKind.ADMIN:
            raise PermissionDeniedError(
                "Admin keys cannot call the gateway; use a project or service-account key.",
                code="admin_key_not_allowed",
            )
        if not ip_allowed(client, key.allowed_ips):
            raise PermissionDeniedError(
                "This API key may not be used from your IP address.", code="ip_not_allowed"
            )
        if not permissions_of(key).allows(scope):
            raise PermissionDeniedError(
                f"You have insufficient permissions for this operation. Missing scopes: {scope}.",
                code="missing_scope",
            )
        return Grant(key=key, project=resolution.project)

    @staticmethod
    def check_model(grant: Grant, model: str) -> None:
        """Refuse a model outside the key's allow-list or its project's model permissions."""
        if not grant.project_allows(model):
            raise PermissionDeniedError(
                f"The project of this API key may not use the model '{model}'.",
                param="model",
                code="model_not_allowed",
            )
        if not grant.allows_model(model):
            raise PermissionDeniedError(
                f"This API key may not use the model '{model}'.",
                param="model",
                code="model_not_allowed",
            )
