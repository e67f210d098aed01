"""Verifier: local refusals, the verdict cache, and failing closed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from keyplane.keys.format import KeyKind, generate_key
from keyplane.sdk import APIConnectionError, AsyncVerifier, Client, Verifier, VerifyCode
from sdk.transports import AsyncCountingTransport, CountingTransport
from support.server import ServerProcess, free_port


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def tampered(key: str) -> str:
    return key[:-1] + ("A" if key[-1] != "A" else "B")


def verifier_for(server: ServerProcess, **options: Any) -> tuple[Verifier, CountingTransport]:
    transport = CountingTransport()
    verifier = Verifier(server.url, server.admin_key, transport=transport, env_file=None, **options)
    return verifier, transport


@pytest.mark.parametrize(
    "presented",
    ["", "hello", "kp_proj_short", tampered(generate_key(KeyKind.PROJECT))],
    # Named, not shown: a generated key in the id differs between pytest-xdist's workers.
    ids=["empty", "not-a-key", "too-short", "bad-checksum"],
)
def test_if_malformed_or_bad_checksum_then_refused_without_network(
    sdk_server: ServerProcess, presented: str
) -> None:
    verifier, transport = verifier_for(sdk_server)
    with verifier:
        assert verifier.verify(presented).code == VerifyCode.MALFORMED
    assert transport.paths == []


def test_valid_verdict_is_cached_for_its_ttl(
    sdk_server: ServerProcess, admin: Client, project_id: str
) -> None:
    key = admin.keys.create(project_id, name="cached").value.get_secret_value()
    clock = Ticks()
    verifier, transport = verifier_for(sdk_server, cache_ttl=5.0, clock=clock)
    with verifier:
        assert verifier.verify(key).valid
        assert verifier.verify(key).valid
        assert len(transport.paths) == 1
        clock.now += 5.1
        assert verifier.verify(key).valid
        assert len(transport.paths) == 2
        assert verifier.verify(key, scopes=["models.read"]).valid
        assert len(transport.paths) == 3, "other scopes are another question"


def test_if_cache_off_then_every_verdict_asks_the_server(
    sdk_server: ServerProcess, admin: Client, project_id: str
) -> None:
    key = admin.keys.create(project_id, name="uncached").value.get_secret_value()
    verifier, transport = verifier_for(sdk_server, cache_ttl=0)
    with verifier:
        for _ in range(3):
            assert verifier.verify(key).valid
    assert len(transport.paths) == 3


def test_refusals_are_cached_shorter(
    sdk_server: ServerProcess, admin: Client, project_id: str
) -> None:
    unknown = generate_key(KeyKind.PROJECT)
    clock = Ticks()
    verifier, transport = verifier_for(sdk_server, negative_cache_ttl=1.0, clock=clock)
    with verifier:
        assert verifier.verify(unknown).code == VerifyCode.NOT_FOUND
        assert verifier.verify(unknown).code == VerifyCode.NOT_FOUND
        assert len(transport.paths) == 1
        clock.now += 1.1
        verifier.verify(unknown)
        assert len(transport.paths) == 2


def test_if_server_unreachable_then_fails_closed() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    key = generate_key(KeyKind.PROJECT)
    with Verifier(url, "kp_admin_x", env_file=None) as verifier:
        result = verifier.verify(key)
        assert (result.valid, result.code) == (False, VerifyCode.UNAVAILABLE)
    with (
        Verifier(url, "kp_admin_x", env_file=None, on_error="raise") as verifier,
        pytest.raises(APIConnectionError),
    ):
        verifier.verify(key)


def test_if_admin_key_is_wrong_then_fails_closed(sdk_server: ServerProcess) -> None:
    wrong = "kp_admin_" + "B" * 38
    with Verifier(sdk_server.url, wrong, env_file=None) as verifier:
        assert verifier.verify(generate_key(KeyKind.PROJECT)).code == VerifyCode.UNAVAILABLE


async def test_async_verifier_caches_and_refuses_locally(
    sdk_server: ServerProcess, admin: Client, project_id: str
) -> None:
    key = admin.keys.create(project_id, name="async").value.get_secret_value()
    transport = AsyncCountingTransport()
    async with AsyncVerifier(
        sdk_server.url, sdk_server.admin_key, transport=transport, env_file=None
    ) as verifier:
        assert (await verifier.verify(key)).valid
        assert (await verifier.verify(key)).valid
        assert (await verifier.verify(tampered(key))).code == VerifyCode.MALFORMED
    assert len(transport.paths) == 1


async def test_concurrent_verifications_of_one_key_share_a_round_trip(
    sdk_server: ServerProcess, admin: Client, project_id: str
) -> None:
    key = admin.keys.create(project_id, name="burst").value.get_secret_value()
    transport = AsyncCountingTransport()
    async with AsyncVerifier(
        sdk_server.url, sdk_server.admin_key, transport=transport, env_file=None
    ) as verifier:
        results = await asyncio.gather(*(verifier.verify(key) for _ in range(20)))
    assert all(result.valid for result in results)
    assert len(transport.paths) == 1
