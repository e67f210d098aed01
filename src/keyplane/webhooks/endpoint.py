"""An organisation's webhook endpoint: its URL and signing secret, on ``organizations``."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit.actor import Actor
from keyplane.audit.log import record
from keyplane.errors import NotFoundError, ValidationFailedError
from keyplane.store.database import Database
from keyplane.store.models import Organization
from keyplane.webhooks.signing import SECRET_PREFIX, new_secret

MAX_URL_LENGTH = 2000


@dataclass(frozen=True)
class WebhookTarget:
    """Where to deliver and how to sign. ``secret`` is shown only when created or rotated."""

    url: str
    secret: str = field(repr=False)

    @property
    def secret_hint(self) -> str:
        return f"{SECRET_PREFIX}...{self.secret[-4:]}"


class WebhookEndpoints:
    """Show, set, clear the webhook URL and rotate its secret; every change is audited."""

    def __init__(self, database: Database) -> None:
        self.db = database

    async def get(self, *, organization_id: str) -> WebhookTarget | None:
        async with self.db.session() as session:
            await _organization(session, organization_id)
            return await load_target(session, organization_id)

    async def set_url(
        self, *, organization_id: str, url: str, actor: Actor
    ) -> tuple[WebhookTarget, bool]:
        """Point the webhook at ``url``; return the target and whether its secret is new."""
        clean = clean_url(url)
        async with self.db.session() as session, session.begin():
            org = await _organization(session, organization_id)
            created = org.webhook_secret is None
            secret = org.webhook_secret or new_secret()
            org.webhook_secret = secret
            org.webhook_url = clean
            record(
                session,
                organization_id=organization_id,
                type="organization.webhook.updated",
                actor=actor,
                target_type="organization",
                target_id=organization_id,
                data={"url": clean, "secret_created": created},
            )
            return WebhookTarget(url=clean, secret=secret), created

    async def clear(self, *, organization_id: str, actor: Actor) -> None:
        """Stop deliveries; the secret goes too, so a new URL gets a new secret."""
        async with self.db.session() as session, session.begin():
            org = await _organization(session, organization_id)
            if org.webhook_url is None and org.webhook_secret is None:
                return
            org.webhook_url = None
            org.webhook_secret = None
            record(
                session,
                organization_id=organization_id,
                type="organization.webhook.deleted",
                actor=actor,
                target_type="organization",
                target_id=organization_id,
            )

    async def rotate_secret(self, *, organization_id: str, actor: Actor) -> WebhookTarget:
        """A new signing secret, used for every delivery from now on (retries too)."""
        async with self.db.session() as session, session.begin():
            org = await _organization(session, organization_id)
            if not org.webhook_url:
                raise NotFoundError(
                    "This organization has no webhook; set its URL first (a secret comes with it)."
                )
            secret = new_secret()
            org.webhook_secret = secret
            record(
                session,
                organization_id=organization_id,
                type="organization.webhook.secret_rotated",
                actor=actor,
                target_type="organization",
                target_id=organization_id,
            )
            return WebhookTarget(url=org.webhook_url, secret=secret)


async def load_target(session: AsyncSession, organization_id: str) -> WebhookTarget | None:
    """The organisation's delivery target, or None when it has no webhook."""
    org = await session.get(Organization, organization_id)
    if org is None or not org.webhook_url or not org.webhook_secret:
        return None
    return WebhookTarget(url=org.webhook_url, secret=org.webhook_secret)


def clean_url(url: str) -> str:
    """An absolute http(s) URL, or a 422 saying what is wrong with it."""
    value = url.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailedError(
            "The webhook URL must be an absolute http:// or https:// URL.", param="url"
        )
    if len(value) > MAX_URL_LENGTH:
        raise ValidationFailedError(
            f"The webhook URL is longer than {MAX_URL_LENGTH} characters.", param="url"
        )
    return value


async def _organization(session: AsyncSession, organization_id: str) -> Organization:
    org = await session.get(Organization, organization_id)
    if org is None:
        raise NotFoundError(f"No organization with id '{organization_id}'.")
    return org
