"""Password hashing is slow and large on purpose (argon2id: 64 MiB and ~100 ms a hash), so a
flood of sign-ins must not take every core and gigabytes from the gateway beside it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest
from argon2 import PasswordHasher
from pydantic import ValidationError

from keyplane.config import Settings
from keyplane.errors import RateLimitedError
from keyplane.services import passwords as passwords_module
from keyplane.services.passwords import Passwords


class Hasher:
    """argon2's hasher, with ``verify`` replaced (its own attributes are read-only)."""

    def __init__(self, real: PasswordHasher, verify: Callable[[str, str], bool]) -> None:
        self.hash = real.hash
        self.verify = verify


def cheap() -> Passwords:
    return Passwords(time_cost=1, memory_kib=32)


async def test_a_right_password_verifies_and_a_wrong_one_does_not() -> None:
    passwords = cheap()
    stored = await passwords.hash("correct horse battery")
    assert await passwords.verify(stored, "correct horse battery")
    assert not await passwords.verify(stored, "wrong horse battery")
    assert not await passwords.verify(None, "correct horse battery")  # an unknown email


async def test_hashes_run_a_few_at_a_time_whatever_the_sign_ins_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    passwords = cheap()
    stored = await passwords.hash("correct horse battery")
    running = most = 0
    lock = threading.Lock()
    verify = passwords.hasher.verify

    def counted(hashed: str, password: str) -> bool:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            threading.Event().wait(0.01)
            return verify(hashed, password)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(passwords, "hasher", Hasher(passwords.hasher, counted))
    results = await asyncio.gather(
        *(passwords.verify(stored, "correct horse battery") for _ in range(20))
    )
    assert all(results)
    assert most == passwords_module.HASHING_THREADS


async def test_sign_ins_beyond_the_queue_are_refused_with_429_not_held_in_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(passwords_module, "MAX_WAITING", 4)
    passwords = cheap()
    stored = await passwords.hash("correct horse battery")
    release = threading.Event()
    verify = passwords.hasher.verify

    def held(hashed: str, password: str) -> bool:
        release.wait(5)
        return verify(hashed, password)

    monkeypatch.setattr(passwords, "hasher", Hasher(passwords.hasher, held))
    calls = [
        asyncio.ensure_future(passwords.verify(stored, "correct horse battery")) for _ in range(10)
    ]
    await asyncio.sleep(0.05)
    refused = [call for call in calls if call.done()]
    assert len(refused) == 6
    for call in refused:
        error = call.exception()
        assert isinstance(error, RateLimitedError)
        assert "sign-ins" in str(error)
    release.set()
    assert all(await asyncio.gather(*(c for c in calls if c not in refused)))


def test_a_memory_cost_argon2_cannot_use_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="argon2_memory_kib"):
        Settings(_env_file=None, argon2_memory_kib=16)
    assert cheap().hasher.hash("correct horse battery")  # the least allowed does hash
