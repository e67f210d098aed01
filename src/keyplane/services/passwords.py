"""People's credentials: argon2 password hashes and the shape of an email address."""

from __future__ import annotations

import asyncio
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from keyplane.config import Settings
from keyplane.errors import ValidationFailedError

MIN_PASSWORD = 10
MAX_PASSWORD = 200
MAX_EMAIL = 320
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def clean_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > MAX_EMAIL or not _EMAIL.match(email):
        raise ValidationFailedError("Enter an email address like name@example.com.", param="email")
    return email


def clean_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailedError(
            f"Use a password of at least {MIN_PASSWORD} characters.", param="password"
        )
    if len(password) > MAX_PASSWORD:
        raise ValidationFailedError(
            f"Use a password of at most {MAX_PASSWORD} characters.", param="password"
        )
    return password


def clean_person_name(name: str) -> str:
    name = name.strip()
    if len(name) > 200:
        raise ValidationFailedError("Use a name of at most 200 characters.", param="name")
    return name


class Passwords:
    """Argon2id hashing with tunable cost; slow on purpose, so it runs in a thread."""

    def __init__(self, *, time_cost: int = 3, memory_kib: int = 65536) -> None:
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        self._decoy: str | None = None

    @classmethod
    def of(cls, settings: Settings) -> Passwords:
        return cls(time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib)

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; with no hash it still costs one verification,
        so an unknown email takes as long to refuse as a wrong password."""
        if self._decoy is None:
            self._decoy = await self.hash(secrets.token_urlsafe(16))
        stored = password_hash or self._decoy
        ok = await asyncio.to_thread(self._verify, stored, password[:MAX_PASSWORD])
        return ok and password_hash is not None

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
