"""``/v1/organization/webhook``: where signed events go, and the secret that signs them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from keyplane.api.deps import AdminPrincipal
from keyplane.runtime.deps import WebhookEndpointsDep
from keyplane.webhooks.endpoint import WebhookTarget

router = APIRouter(prefix="/v1/organization/webhook", tags=["webhook"])


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, Field(min_length=1, max_length=2000)]


class WebhookOut(BaseModel):
    """``secret`` is present only in the answer that creates or rotates it."""

    object: Literal["organization.webhook"] = "organization.webhook"
    url: str | None
    secret_hint: str | None
    secret: str | None = None

    @classmethod
    def of(cls, target: WebhookTarget | None, *, show_secret: bool = False) -> WebhookOut:
        if target is None:
            return cls(url=None, secret_hint=None)
        secret = target.secret if show_secret else None
        return cls(url=target.url, secret_hint=target.secret_hint, secret=secret)


@router.get("")
async def show_webhook(
    principal: AdminPrincipal, webhook_endpoints: WebhookEndpointsDep
) -> WebhookOut:
    target = await webhook_endpoints.get(organization_id=principal.organization_id)
    return WebhookOut.of(target)


@router.post("")
async def set_webhook(
    body: WebhookIn, principal: AdminPrincipal, webhook_endpoints: WebhookEndpointsDep
) -> WebhookOut:
    """Set the URL; the first time, a signing secret is made and shown once."""
    target, created = await webhook_endpoints.set_url(
        organization_id=principal.organization_id, url=body.url, actor=principal.actor
    )
    return WebhookOut.of(target, show_secret=created)


@router.delete("")
async def clear_webhook(
    principal: AdminPrincipal, webhook_endpoints: WebhookEndpointsDep
) -> WebhookOut:
    await webhook_endpoints.clear(organization_id=principal.organization_id, actor=principal.actor)
    return WebhookOut.of(None)


@router.post("/rotate_secret")
async def rotate_webhook_secret(
    principal: AdminPrincipal, webhook_endpoints: WebhookEndpointsDep
) -> WebhookOut:
    """A new signing secret, shown once; the old one stops signing at once."""
    target = await webhook_endpoints.rotate_secret(
        organization_id=principal.organization_id, actor=principal.actor
    )
    return WebhookOut.of(target, show_secret=True)
