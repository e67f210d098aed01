"""Invitations: a one-time link (only its hash is kept) that makes a person a member."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from keyplane.audit.actor import Actor
from keyplane.audit.log import record
from keyplane.clock import Clock, system_clock
from keyplane.errors import ConflictError, NotFoundError
from keyplane.keys import hash_key
from keyplane.services.members import Access, clean_role, known_projects, may_grant
from keyplane.services.passwords import (
    Passwords,
    clean_email,
    clean_password,
    clean_person_name,
)
from keyplane.services.users import NewAccount
from keyplane.store.database import Database
from keyplane.store.models import Invite, Membership, ProjectMember, User
from keyplane.store.pagination import Page, paginate

INVITE_TOKEN_BYTES = 32


@dataclass(frozen=True)
class IssuedInvite:
    """An invite with its token, which exists only in this object and the link shown once."""

    invite: Invite
    token: str = field(repr=False)


class InviteService:
    def __init__(
        self,
        database: Database,
        *,
        clock: Clock = system_clock,
        lifetime: timedelta = timedelta(days=7),
        passwords: Passwords | None = None,
    ) -> None:
        self.db = database
        self.clock = clock
        self.lifetime = lifetime
        self.passwords = passwords or Passwords()

    async def create(
        self,
        *,
        organization_id: str,
        email: str,
        role: str,
        project_ids: list[str],
        actor: Actor,
        by: Access,
    ) -> IssuedInvite:
        email, role = clean_email(email), clean_role(role)
        may_grant(by, role)
        token = secrets.token_urlsafe(INVITE_TOKEN_BYTES)
        now = self.clock()
        async with self.db.session() as session, session.begin():
            taken = await session.execute(select(User.id).where(User.email == email))
            if taken.scalar() is not None:
                raise ConflictError("Someone with this email is already a member.", param="email")
            projects = await known_projects(session, organization_id, project_ids)
            invite = Invite(
                organization_id=organization_id,
                token_hash=hash_key(token),
                email=email,
                role=role,
                project_ids=sorted(projects),
                created_by=actor.id,
                created_at=now,
                expires_at=now + self.lifetime,
            )
            session.add(invite)
            await session.flush()
            record(
                session,
                organization_id=organization_id,
                type="member.invited",
                actor=actor,
                target_type="invite",
                target_id=invite.id,
                data={"email": email, "role": role.value, "project_ids": invite.project_ids},
            )
        return IssuedInvite(invite=invite, token=token)

    async def pending(self, *, organization_id: str) -> list[Invite]:
        async with self.db.session() as session:
            rows = await session.execute(
                select(Invite)
                .where(
                    Invite.organization_id == organization_id,
                    Invite.used_at.is_(None),
                    Invite.expires_at > self.clock(),
                )
                .order_by(Invite.created_at.desc())
            )
            return list(rows.scalars())

    async def page(
        self, *, organization_id: str, limit: int = 20, after: str | None = None
    ) -> Page[Invite]:
        """Every invite but revoked ones, oldest first: pending, accepted and expired."""
        async with self.db.session() as session:
            query = select(Invite).where(
                Invite.organization_id == organization_id,
                or_(Invite.used_at.is_(None), Invite.used_at != Invite.expires_at),
            )
            return await paginate(session, query, Invite, limit=limit, after=after)

    async def get(self, *, organization_id: str, invite_id: str) -> Invite:
        async with self.db.session() as session:
            invite = await session.get(Invite, invite_id)
        if invite is None or invite.organization_id != organization_id or revoked(invite):
            raise NotFoundError(f"No invite with id '{invite_id}'.", param="invite_id")
        return invite

    async def find(self, token: str) -> Invite:
        """The open invite for a token; 404 for a wrong, used or expired one."""
        async with self.db.session() as session:
            invite = (
                await session.execute(select(Invite).where(Invite.token_hash == hash_key(token)))
            ).scalar()
        if invite is None or invite.used_at is not None or invite.expires_at <= self.clock():
            raise NotFoundError("This invitation link is not valid, was used, or has expired.")
        return invite

    async def revoke(
        self, *, organization_id: str, invite_id: str, actor: Actor, by: Access
    ) -> None:
        by.require_manager()
        async with self.db.session() as session, session.begin():
            invite = await session.get(Invite, invite_id)
            if invite is None or invite.organization_id != organization_id:
                raise NotFoundError(f"No invite with id '{invite_id}'.", param="invite_id")
            if invite.used_at is None:
                invite.used_at = invite.expires_at = self.clock()
                record(
                    session,
                    organization_id=organization_id,
                    type="member.invite_revoked",
                    actor=actor,
                    target_type="invite",
                    target_id=invite.id,
                    data={"email": invite.email},
                )

    async def accept(self, *, token: str, account: NewAccount, actor: Actor) -> User:
        """Create the invited person's account; the link stops working at once."""
        invite = await self.find(token)
        name = clean_person_name(account.name)
        password_hash = await self.passwords.hash(clean_password(account.password))
        now = self.clock()
        try:
            async with self.db.session() as session, session.begin():
                used = await session.execute(
                    update(Invite)
                    .where(Invite.id == invite.id, Invite.used_at.is_(None))
                    .values(used_at=now)
                )
                if used.rowcount != 1:  # type: ignore[attr-defined]
                    raise NotFoundError("This invitation link was already used.")
                user = User(
                    email=invite.email, name=name, password_hash=password_hash, created_at=now
                )
                session.add(user)
                await session.flush()
                session.add(
                    Membership(
                        organization_id=invite.organization_id,
                        user_id=user.id,
                        role=invite.role,
                        created_at=now,
                    )
                )
                for project_id in invite.project_ids:
                    session.add(
                        ProjectMember(project_id=project_id, user_id=user.id, created_at=now)
                    )
                record(
                    session,
                    organization_id=invite.organization_id,
                    type="member.added",
                    actor=Actor(type="user", id=user.id, label=invite.email).at(
                        ip_address=actor.ip_address, user_agent=actor.user_agent
                    ),
                    target_type="user",
                    target_id=user.id,
                    data={
                        "email": invite.email,
                        "role": invite.role.value,
                        "invite_id": invite.id,
                    },
                )
        except IntegrityError:
            raise ConflictError("An account with this email already exists.") from None
        return user


def revoked(invite: Invite) -> bool:
    """``revoke`` closes an invite by setting both times to the same moment."""
    return invite.used_at is not None and invite.used_at == invite.expires_at


def status_of(invite: Invite, *, now: datetime) -> str:
    """OpenAI's ``pending``, ``accepted`` or ``expired``."""
    if invite.used_at is not None:
        return "expired" if revoked(invite) else "accepted"
    return "pending" if invite.expires_at > now else "expired"


__all__ = ["InviteService", "IssuedInvite", "NewAccount", "status_of"]
