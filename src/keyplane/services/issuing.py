"""Make a secret for a key: the plaintext goes to the caller, only the hash to the store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.keys import hash_key, redact
from keyplane.keys.format import build_key, random_part
from keyplane.store.models import ApiKey, ApiKeySecret


def add_secret(
    session: AsyncSession,
    key: ApiKey,
    *,
    brand: str,
    now: datetime,
    random: str | None = None,
    rotated_from_id: str | None = None,
) -> tuple[ApiKeySecret, str]:
    """Add a new secret to ``key``; return the row and the plaintext, which is not kept."""
    plaintext = build_key(brand=brand, kind=key.kind, random=random or random_part())
    secret = ApiKeySecret(
        api_key_id=key.id,
        hash=hash_key(plaintext),
        redacted_value=redact(plaintext),
        rotated_from_id=rotated_from_id,
        created_at=now,
    )
    session.add(secret)
    key.redacted_value = secret.redacted_value
    return secret, plaintext
