"""The pipelining RESP client of the limits' request path, against the real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from keyplane.limits.resp import Incomplete, ReplyError, RespClient, pack, packed, parse
from support.redis_server import redis_url


def test_every_reply_type_parses_even_when_it_arrives_one_byte_at_a_time() -> None:
    wire = b"*5\r\n:-42\r\n$5\r\nhe\r\no\r\n+OK\r\n$-1\r\n*2\r\n:1\r\n*0\r\n-ERR bad\r\n"
    whole, end = parse(wire, 0)
    assert whole == [-42, b"he\r\no", b"OK", None, [1, []]]
    error, after = parse(wire, end)
    assert isinstance(error, ReplyError) and str(error) == "ERR bad"
    assert after == len(wire)
    for cut in range(1, end):  # any prefix of a reply is incomplete, never a wrong value
        with pytest.raises(Incomplete):
            parse(wire[:cut], 0)


def test_commands_are_packed_as_bulk_strings() -> None:
    wire = b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n$3\r\n1.5\r\n$2\r\n\xc3\xa9\r\n"
    assert pack(("SET", b"k", 12, 1.5, "\u00e9")) == wire
    raw = bytes(range(256))  # any bytes, valid UTF-8 or not, go out as they are
    assert pack((raw, packed(["ab", 7]), True)) == (
        b"*4\r\n$256\r\n" + raw + b"\r\n$2\r\nab\r\n$1\r\n7\r\n$1\r\n1\r\n"
    )


@pytest.fixture
async def client() -> AsyncIterator[RespClient]:
    resp = RespClient(redis_url(), timeout=2)
    yield resp
    await resp.close()


@pytest.mark.redis
async def test_concurrent_commands_each_get_their_own_reply(client: RespClient) -> None:
    key = f"kp:test:resp:{secrets.token_hex(4)}"
    replies = await asyncio.gather(*(client.execute("INCR", key) for _ in range(500)))
    assert sorted(replies) == list(range(1, 501))
    assert replies == sorted(replies)  # answered in the order sent
    await client.execute("DEL", key)


@pytest.mark.redis
async def test_an_error_reply_fails_its_own_command_only(client: RespClient) -> None:
    key = f"kp:test:resp:{secrets.token_hex(4)}"
    await client.execute("SET", key, "text")
    results = await asyncio.gather(
        client.execute("GET", key),
        client.execute("INCR", key),
        client.execute("STRLEN", key),
        return_exceptions=True,
    )
    assert results[0] == b"text"
    assert isinstance(results[1], ReplyError) and "not an integer" in str(results[1])
    assert results[2] == 4
    await client.execute("DEL", key)


@pytest.mark.redis
async def test_a_script_redis_does_not_know_yet_is_loaded_and_run(client: RespClient) -> None:
    script = f"-- {secrets.token_hex(8)}\nreturn {{KEYS[1], tonumber(ARGV[1]) + 1}}"
    assert await client.evalsha(script, ["k"], [41]) == [b"k", 42]  # NOSCRIPT, then EVAL
    assert await client.evalsha(script, ["k"], [1]) == [b"k", 2]  # now by its digest


@pytest.mark.redis
async def test_a_dropped_connection_is_remade_for_the_next_command(client: RespClient) -> None:
    own_id = await client.execute("CLIENT", "ID")
    admin = Redis.from_url(redis_url())
    await admin.client_kill_filter(_id=own_id)
    await admin.aclose()
    with contextlib.suppress(OSError):
        await client.execute("PING")  # sent before the close reached this side: fails
    assert await client.execute("PING") == b"PONG"
    assert await client.execute("CLIENT", "ID") != own_id


@pytest.mark.redis
async def test_the_database_in_the_url_is_selected() -> None:
    key = f"kp:test:resp:{secrets.token_hex(4)}"
    resp = RespClient(redis_url(3))
    await resp.execute("SET", key, "in three", "EX", 60)
    await resp.close()
    three = Redis.from_url(redis_url(3))
    assert await three.get(key) == b"in three"
    await three.delete(key)
    await three.aclose()


async def test_a_server_that_never_answers_fails_every_waiting_command_at_the_deadline() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # reads nothing, answers nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    resp = RespClient(f"redis://127.0.0.1:{port}/0", timeout=0.3)
    started = time.monotonic()
    pings = [resp.execute("PING") for _ in range(5)]
    results = await asyncio.gather(*pings, return_exceptions=True)
    waited = time.monotonic() - started
    assert all(isinstance(result, TimeoutError) for result in results), results
    assert 0.25 < waited < 5
    await resp.close()
    for writer in accepted:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_an_unreachable_redis_is_an_os_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    resp = RespClient(f"redis://127.0.0.1:{port}/0", timeout=1)
    with pytest.raises(ConnectionRefusedError):
        await resp.execute("PING")
