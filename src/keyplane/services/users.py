"""People's accounts: the one-time setup of the owner, and signing in with a password.

Failed sign-ins are counted per email address (known or not, so the answer tells nothing
about which accounts exist); after ``max_failures`` in a row the address is locked for
``lockout``, and both events are audited.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit.actor import Actor
from keyplane.audit.log import record
from keyplane.clock import Clock, system_clock
from keyplane.config import Settings
from keyplane.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
)
from keyplane.keys import hash_key
from keyplane.services.passwords import (
    Passwords,
    clean_email,
    clean_password,
    clean_person_name,
)
from keyplane.store.database import Database
from keyplane.store.models import Instance, LoginThrottle, Membership, User
from keyplane.values.kinds import Role

SETUP_TOKEN_BYTES = 32


@dataclass(frozen=True)
class LoginPolicy:
    """How many failed sign-ins in a row lock an address, and for how long."""

    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)

    @classmethod
    def of(cls, settings: Settings) -> LoginPolicy:
        return cls(
            max_failures=settings.login_max_failures,
            lockout=timedelta(seconds=settings.login_lockout_seconds),
        )


@dataclass(frozen=True)
class NewAccount:
    email: str
    name: str
    password: str


class UserService:
    def __init__(
        self,
        database: Database,
        *,
        clock: Clock = system_clock,
        policy: LoginPolicy | None = None,
        passwords: Passwords | None = None,
    ) -> None:
        self.db = database
        self.clock = clock
        self.policy = policy or LoginPolicy()
        self.passwords = passwords or Passwords()

    async def owner_exists(self) -> bool:
        async with self.db.session() as session:
            return await _owner_exists(session)

    async def issue_setup_token(self) -> str | None:
        """A new setup token while no owner exists (only its hash is kept); None after."""
        async with self.db.session() as session, session.begin():
            instance = await _instance(session)
            if await _owner_exists(session):
                return None
            token = secrets.token_urlsafe(SETUP_TOKEN_BYTES)
            instance.setup_token_hash = hash_key(token)
        return token

    async def setup_token_valid(self, token: str) -> bool:
        async with self.db.session() as session:
            instance = await _instance(session)
            return _token_matches(instance.setup_token_hash, token)

    async def create_owner(self, *, token: str, account: NewAccount, actor: Actor) -> User:
        """Claim the instance with the setup token; the token stops working at once."""
        email = clean_email(account.email)
        name = clean_person_name(account.name)
        password_hash = await self.passwords.hash(clean_password(account.password))
        async with self.db.session() as session, session.begin():
            instance = await _instance(session)
            if not _token_matches(instance.setup_token_hash, token):
                raise NotFoundError("This setup link is not valid or was already used.")
            # Clearing the hash with a guard makes two racing claims end with one owner.
            claimed = await session.execute(
                update(Instance)
                .where(Instance.id == instance.id, Instance.setup_token_hash == hash_key(token))
                .values(setup_token_hash=None)
            )
            if claimed.rowcount != 1 or await _owner_exists(session):  # type: ignore[attr-defined]
                raise NotFoundError("This setup link is not valid or was already used.")
            user = User(
                email=email, name=name, password_hash=password_hash, created_at=self.clock()
            )
            session.add(user)
            await session.flush()
            session.add(
                Membership(
                    organization_id=instance.organization_id,
                    user_id=user.id,
                    role=Role.OWNER,
                    created_at=self.clock(),
                )
            )
            record(
                session,
                organization_id=instance.organization_id,
                type="user.created",
                actor=Actor(type="user", id=user.id, label=email).at(
                    ip_address=actor.ip_address, user_agent=actor.user_agent
                ),
                target_type="user",
                target_id=user.id,
                data={"email": email, "role": Role.OWNER.value, "via": "setup"},
            )
        return user

    async def authenticate(self, *, email: str, password: str, actor: Actor) -> User:
        """The user for a right email and password; 401 otherwise, 429 while locked."""
        address = email.strip().lower()[:320]
        now = self.clock()
        async with self.db.session() as session:
            throttle = await session.get(LoginThrottle, address)
            user = (await session.execute(select(User).where(User.email == address))).scalar()
            member = user is not None and await _is_member(session, user.id)
        if (
            throttle is not None
            and throttle.locked_until is not None
            and throttle.locked_until > now
        ):
            raise RateLimitedError(
                _locked_message(throttle.locked_until - now), code="login_locked"
            )
        matches = await self.passwords.verify(user.password_hash if user else None, password)
        # Someone removed from the organisation fails like a wrong password: nothing to learn.
        if user is None or not matches or not member or user.disabled_at is not None:
            await self._failed(address, actor)
            raise AuthenticationError("Wrong email or password.", code="login_failed")
        async with self.db.session() as session, session.begin():
            row = await session.get(LoginThrottle, address)
            if row is not None:
                await session.delete(row)
        return user

    async def _failed(self, address: str, actor: Actor) -> None:
        now = self.clock()
        for _ in range(2):
            try:
                async with self.db.session() as session, session.begin():
                    await self._count_failure(session, address, actor, now)
                return
            except IntegrityError:
                continue  # a concurrent failure created the row first; count on it

    async def _count_failure(
        self, session: AsyncSession, address: str, actor: Actor, now: datetime
    ) -> None:
        instance = await _instance(session)
        row = await session.get(LoginThrottle, address, with_for_update=True)
        if row is None:
            row = LoginThrottle(email=address, failures=0)
            session.add(row)
        elif row.last_failure_at is not None and now - row.last_failure_at > self.policy.lockout:
            row.failures = 0  # an old streak of failures is forgiven
        row.failures += 1
        row.last_failure_at = now
        who = Actor(type="user", label=address).at(
            ip_address=actor.ip_address, user_agent=actor.user_agent
        )
        org = instance.organization_id
        data: dict[str, object] = {"email": address, "failures": row.failures}
        record(session, organization_id=org, type="login.failed", actor=who, data=data)
        if row.failures >= self.policy.max_failures:
            row.locked_until = now + self.policy.lockout
            row.failures = 0
            data = {"email": address, "seconds": int(self.policy.lockout.total_seconds())}
            record(session, organization_id=org, type="login.locked", actor=who, data=data)
        await session.flush()

    async def get(self, user_id: str) -> User:
        async with self.db.session() as session:
            user = await session.get(User, user_id)
        if user is None:
            raise NotFoundError(f"No user with id '{user_id}'.", param="user_id")
        return user


async def _instance(session: AsyncSession) -> Instance:
    instance = (await session.execute(select(Instance))).scalar_one_or_none()
    if instance is None:
        raise ConflictError("keyplane is not initialised yet; run 'keyplane init' or 'serve'.")
    return instance


async def _is_member(session: AsyncSession, user_id: str) -> bool:
    instance = await _instance(session)
    found = await session.execute(
        select(Membership.id).where(
            Membership.user_id == user_id, Membership.organization_id == instance.organization_id
        )
    )
    return found.scalar() is not None


async def _owner_exists(session: AsyncSession) -> bool:
    owners = select(func.count()).select_from(Membership).where(Membership.role == Role.OWNER)
    return bool((await session.execute(owners)).scalar_one())


def _token_matches(stored_hash: str | None, token: str) -> bool:
    if not stored_hash or not token or len(token) > 200:
        return False
    return secrets.compare_digest(stored_hash, hash_key(token))


def _locked_message(left: timedelta) -> str:
    minutes = max(1, round(left.total_seconds() / 60))
    return f"Too many failed sign-ins; try again in {minutes} minute{'s' if minutes > 1 else ''}."
