"""Rotation: a new secret for the same key id, the old one alive for a grace period.

With an ``Idempotency-Key`` the new secret is derived (HMAC with the server secret over a
stored random salt, the key id and the idempotency key), so a retried call can hand back
the same secret while the store never holds it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit.actor import Actor
from keyplane.audit.log import record
from keyplane.clock import Clock, system_clock
from keyplane.errors import ConflictError, ValidationFailedError
from keyplane.keys import constant_time_equal, hash_key
from keyplane.keys.format import RANDOM_LENGTH, build_key, encode_base62
from keyplane.services.api_keys import IssuedKey, get_project_key
from keyplane.services.issuing import add_secret
from keyplane.store.database import Database
from keyplane.store.models import ApiKey, ApiKeySecret, IdempotencyRecord

MAX_GRACE = timedelta(days=30)


class RotationService:
    def __init__(
        self,
        database: Database,
        *,
        brand: str,
        server_secret: bytes,
        idempotency_ttl: timedelta = timedelta(hours=24),
        clock: Clock = system_clock,
    ) -> None:
        self.db = database
        self.brand = brand
        self.server_secret = server_secret
        self.idempotency_ttl = idempotency_ttl
        self.clock = clock

    async def rotate(
        self,
        *,
        organization_id: str,
        project_id: str,
        key_id: str,
        grace_period_seconds: int,
        idempotency_key: str | None,
        actor: Actor,
    ) -> IssuedKey:
        grace = _grace(grace_period_seconds)
        for _ in range(3):
            try:
                async with self.db.session() as session, session.begin():
                    key = await get_project_key(
                        session,
                        organization_id=organization_id,
                        project_id=project_id,
                        key_id=key_id,
                    )
                    return await self._rotate_once(session, key, grace, idempotency_key, actor)
            except IntegrityError:
                # A concurrent call with the same Idempotency-Key won; replay its result.
                continue
        raise ConflictError("Another rotation of this key is in progress; retry.")

    async def _rotate_once(
        self,
        session: AsyncSession,
        key: ApiKey,
        grace: timedelta,
        idempotency_key: str | None,
        actor: Actor,
    ) -> IssuedKey:
        now = self.clock()
        random = None
        marker = None
        if idempotency_key is not None:
            scope, key_hash = f"rotate:{key.id}", hash_key(idempotency_key)
            marker = await self._marker(session, scope, key_hash)
            if marker is not None and marker.secret_id is not None:
                return await self._replay(session, key, marker, idempotency_key)
            marker = IdempotencyRecord(
                scope=scope, key_hash=key_hash, salt=secrets.token_hex(16), created_at=now
            )
            session.add(marker)
            await session.flush()
            random = self._derive(marker.salt, key.id, idempotency_key)
        if key.revoked_at is not None:
            raise ConflictError("This key is revoked; create a new key instead of rotating it.")
        old_until = now + grace
        await session.execute(
            update(ApiKeySecret)
            .where(
                ApiKeySecret.api_key_id == key.id,
                or_(ApiKeySecret.expires_at.is_(None), ApiKeySecret.expires_at > old_until),
            )
            .values(expires_at=old_until)
        )
        previous = await self._current_secret_id(session, key.id)
        secret, plaintext = add_secret(
            session, key, brand=self.brand, now=now, random=random, rotated_from_id=previous
        )
        await session.flush()
        if marker is not None:
            marker.secret_id = secret.id
        record(
            session,
            organization_id=key.organization_id,
            type="api_key.rotated",
            actor=actor,
            target_type="api_key",
            target_id=key.id,
            data={
                "project_id": key.project_id,
                "grace_period_seconds": int(grace.total_seconds()),
                "old_secret_expires_at": int(old_until.timestamp()),
                "redacted_value": secret.redacted_value,
            },
        )
        return IssuedKey(key=key, plaintext=plaintext)

    async def _marker(
        self, session: AsyncSession, scope: str, key_hash: str
    ) -> IdempotencyRecord | None:
        stale = self.clock() - self.idempotency_ttl
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope,
                IdempotencyRecord.key_hash == key_hash,
                IdempotencyRecord.created_at < stale,
            )
        )
        query = select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key_hash == key_hash
        )
        return (await session.execute(query)).scalar_one_or_none()

    async def _replay(
        self, session: AsyncSession, key: ApiKey, marker: IdempotencyRecord, idempotency_key: str
    ) -> IssuedKey:
        secret = await session.get(ApiKeySecret, marker.secret_id)
        random = self._derive(marker.salt, key.id, idempotency_key)
        plaintext = build_key(brand=self.brand, kind=key.kind, random=random)
        if secret is None or not constant_time_equal(hash_key(plaintext), secret.hash):
            raise ConflictError(
                "This Idempotency-Key was used by an instance with another KEYPLANE_SECRET_KEY; "
                "set the same KEYPLANE_SECRET_KEY on every instance, or use a new Idempotency-Key."
            )
        return IssuedKey(key=key, plaintext=plaintext)

    async def _current_secret_id(self, session: AsyncSession, key_id: str) -> str | None:
        query = (
            select(ApiKeySecret.id)
            .where(ApiKeySecret.api_key_id == key_id)
            .order_by(ApiKeySecret.created_at.desc())
            .limit(1)
        )
        return (await session.execute(query)).scalar()

    def _derive(self, salt: str, key_id: str, idempotency_key: str) -> str:
        message = f"rotate\x00{salt}\x00{key_id}\x00{idempotency_key}".encode()
        digest = hmac.new(self.server_secret, message, hashlib.sha256).digest()
        return encode_base62(int.from_bytes(digest, "big") % 62**RANDOM_LENGTH, RANDOM_LENGTH)


def _grace(seconds: int) -> timedelta:
    grace = timedelta(seconds=seconds)
    if seconds < 0 or grace > MAX_GRACE:
        raise ValidationFailedError(
            f"grace_period_seconds must be between 0 and {int(MAX_GRACE.total_seconds())}.",
            param="grace_period_seconds",
        )
    return grace
