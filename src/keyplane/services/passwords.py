"""People's credentials: argon2 password hashes and the shape of an email address."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from keyplane.config import Settings
from keyplane.errors import RateLimitedError, ValidationFailedError

T = TypeVar("T")

# Hashes run in threads of their own, half the cores and four at most: a hash takes ~100 ms
# of CPU and ``argon2_memory_kib`` (64 MiB) while it runs, so a flood of sign-ins, each with
# a new email, must not take every core and gigabytes from the gateway beside it. (On 2
# cores, 8 hashes at once in asyncio's default threads stalled the event loop up to 68 ms,
# p99 of its turns 11-19 ms; in these, up to 9 ms, p99 6 ms.)
HASHING_THREADS = min(4, max(1, (os.cpu_count() or 2) // 2))
# Sign-ins (and password changes) waiting for a thread beyond this many are refused (429).
MAX_WAITING = 64

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
        self._threads = ThreadPoolExecutor(HASHING_THREADS, thread_name_prefix="argon2")
        self._waiting = 0

    @classmethod
    def of(cls, settings: Settings) -> Passwords:
        return cls(time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib)

    async def hash(self, password: str) -> str:
        return await self._run(self.hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; with no hash it still costs one verification,
        so an unknown email takes as long to refuse as a wrong password."""
        if self._decoy is None:
            self._decoy = await self.hash(secrets.token_urlsafe(16))
        stored = password_hash or self._decoy
        ok = await self._run(self._verify, stored, password[:MAX_PASSWORD])
        return ok and password_hash is not None

    async def _run(self, work: Callable[..., T], *args: str) -> T:
        if self._waiting >= MAX_WAITING:
            raise RateLimitedError(
                "Too many sign-ins at once; try again in a few seconds.",
                retry_after=5,
                code="too_many_sign_ins",
            )
        self._waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._threads, work, *args)
        finally:
            self._waiting -= 1

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
