"""Dashboard sessions: a random token in the browser's cookie, only its SHA-256 stored."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete

from keyplane.clock import Clock, system_clock
from keyplane.keys import hash_key
from keyplane.services.bootstrap import current_instance
from keyplane.services.members import Access, access_of
from keyplane.store.database import Database
from keyplane.store.models import User, WebSession

TOKEN_BYTES = 32
# Writing last_seen_at on every page view would make each view a write; once a minute is enough.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SignedIn:
    """A live session: whose it is, what they may do, and its CSRF token."""

    session_id: str
    csrf_token: str
    user: User
    access: Access


class SessionService:
    def __init__(
        self, database: Database, *, clock: Clock = system_clock, lifetime: timedelta
    ) -> None:
        self.db = database
        self.clock = clock
        self.lifetime = lifetime

    @property
    def max_age_seconds(self) -> int:
        """How long the browser should keep the cookie."""
        return int(self.lifetime.total_seconds())

    async def sign_in(self, *, user_id: str, ip_address: str | None, user_agent: str | None) -> str:
        """A session in the organisation this instance serves; the token for the cookie."""
        instance = await current_instance(self.db)
        assert instance is not None  # a user exists, so bootstrapping has happened
        return await self.start(
            user_id=user_id,
            organization_id=instance.organization_id,
            ip_address=ip_address,
            user_agent=user_agent,
        )

    async def start(
        self,
        *,
        user_id: str,
        organization_id: str,
        ip_address: str | None,
        user_agent: str | None,
    ) -> str:
        """A new session; returns the token for the cookie, which the store never sees."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self.clock()
        async with self.db.session() as session, session.begin():
            # Sweep expired sessions here: signing in is rare enough to carry the cost.
            await session.execute(delete(WebSession).where(WebSession.expires_at <= now))
            session.add(
                WebSession(
                    id=hash_key(token),
                    user_id=user_id,
                    organization_id=organization_id,
                    csrf_token=secrets.token_urlsafe(TOKEN_BYTES),
                    created_at=now,
                    expires_at=now + self.lifetime,
                    last_seen_at=now,
                    ip_address=ip_address,
                    user_agent=(user_agent or "")[:300] or None,
                )
            )
        return token

    async def resolve(self, token: str | None) -> SignedIn | None:
        """The live session of a cookie token; None for a missing, expired or ended one."""
        if not token or len(token) > 200:
            return None
        now = self.clock()
        async with self.db.session() as session, session.begin():
            row = await session.get(WebSession, hash_key(token))
            if row is None or row.expires_at <= now:
                return None
            user = await session.get(User, row.user_id)
            access = await access_of(
                session, organization_id=row.organization_id, user_id=row.user_id
            )
            if user is None or user.disabled_at is not None or access is None:
                return None
            if row.last_seen_at is None or now - row.last_seen_at > TOUCH_EVERY:
                row.last_seen_at = now
            return SignedIn(session_id=row.id, csrf_token=row.csrf_token, user=user, access=access)

    async def end(self, token: str | None) -> None:
        if not token:
            return
        async with self.db.session() as session, session.begin():
            await session.execute(delete(WebSession).where(WebSession.id == hash_key(token)))
