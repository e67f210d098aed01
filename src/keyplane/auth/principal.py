"""Authenticate a bearer key into a principal, refusing with the error the caller renders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit.actor import Actor
from keyplane.auth.last_used import LastUsedTracker
from keyplane.auth.resolve import KeyStatus, Resolution, resolve_key
from keyplane.clock import Clock
from keyplane.errors import AuthenticationError, PermissionDeniedError
from keyplane.keys.format import KeyKind
from keyplane.store.database import Database
from keyplane.store.models import ApiKey

_REFUSALS = {
    KeyStatus.MALFORMED: "Incorrect API key provided: it is not a well-formed keyplane key.",
    KeyStatus.NOT_FOUND: "Incorrect API key provided.",
    KeyStatus.REVOKED: "This API key has been revoked.",
    KeyStatus.EXPIRED: "This API key has expired.",
    KeyStatus.DISABLED: "This API key is disabled.",
    KeyStatus.PROJECT_ARCHIVED: "This API key belongs to an archived project.",
}


@dataclass(frozen=True, slots=True)
class Principal:
    organization_id: str
    key: ApiKey
    actor: Actor

    @property
    def is_admin(self) -> bool:
        return self.key.kind is KeyKind.ADMIN


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header, or a 401 that says what is missing."""
    if not authorization:
        raise AuthenticationError(
            "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'."
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("Authorization header must be 'Bearer <key>'.")
    return token.strip()


def authenticated_key(resolution: Resolution) -> ApiKey:
    """The key of a valid resolution; the matching 401 otherwise. For callers that need the
    key alone: the gateway checks every call with it, twice (its gate, then its grant)."""
    if not resolution.valid or resolution.key is None:
        raise AuthenticationError(_REFUSALS.get(resolution.status, "Invalid API key."))
    return resolution.key


def principal_from(resolution: Resolution) -> Principal:
    """A principal for a valid resolution; the matching 401 otherwise."""
    key = authenticated_key(resolution)
    actor = Actor(type=f"{key.kind.value}_key", id=key.id, label=key.redacted_value)
    return Principal(organization_id=key.organization_id, key=key, actor=actor)


async def authenticate_admin(
    session: AsyncSession, *, authorization: str | None, brand: str, now: datetime
) -> Principal:
    """401 without a valid key, 403 for a valid key that is not an admin key."""
    token = bearer_token(authorization)
    principal = principal_from(await resolve_key(session, presented=token, brand=brand, now=now))
    if not principal.is_admin:
        raise PermissionDeniedError(
            "This endpoint needs an admin key; project keys cannot call the admin API."
        )
    return principal


# Where the body-limit gate leaves the admin principal it authenticated, in the request's ASGI
# ``state``: the admin API then takes it instead of looking the key up a second time.
GATED_PRINCIPAL = "keyplane_admin_principal"


class AdminAuthenticator:
    """The admin principal of a request's ``Authorization`` header, its use noted."""

    def __init__(
        self, database: Database, *, brand: str, last_used: LastUsedTracker, clock: Clock
    ) -> None:
        self.db = database
        self.brand = brand
        self.last_used = last_used
        self.clock = clock

    async def authenticate(
        self, authorization: str | None, *, ip_address: str | None, user_agent: str | None
    ) -> Principal:
        """401 without a valid key, 403 for a key that is not an admin key."""
        now = self.clock()
        async with self.db.session() as session:
            principal = await authenticate_admin(
                session, authorization=authorization, brand=self.brand, now=now
            )
        self.last_used.touch(principal.key.id, now)
        return seen_from(principal, ip_address=ip_address, user_agent=user_agent)


def seen_from(principal: Principal, *, ip_address: str | None, user_agent: str | None) -> Principal:
    """``principal`` with the address and agent of the request its audit events will name."""
    actor = principal.actor.at(ip_address=ip_address, user_agent=user_agent)
    return Principal(organization_id=principal.organization_id, key=principal.key, actor=actor)
