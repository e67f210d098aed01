"""The gateway's upstream: the provider key, safe headers, and failures as 502, 503 and 504."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from pydantic import SecretStr

from keyplane.errors import BadGatewayError, UnavailableError
from keyplane.gateway.upstream import (
    Timeouts,
    Upstream,
    UpstreamAnswerError,
    UpstreamAnswerTooLargeError,
    UpstreamTimeoutError,
    read_whole,
)
from support.scripted_server import EndlessHead, Server, replying, serve, trickling

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
PROVIDER_KEY = SecretStr("sk-provider-secret")


async def started(base_url: str, **timeouts: float) -> Upstream:
    upstream = Upstream(base_url=base_url, api_key=PROVIDER_KEY, timeouts=Timeouts(**timeouts))
    await upstream.start()
    return upstream


def url(server: Server, scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{server.port}/v1/"


async def test_the_provider_key_is_sent_and_no_header_line_can_be_forged() -> None:
    async with serve(replying(OK)) as server:
        upstream = await started(url(server))
        headers = {
            "authorization": "Bearer kp_client",
            "x-evil": "1\r\nX-Injected: 1",
            "x-stainless-lang": "python",
        }
        response = await upstream.send("POST", "/chat/completions", body=b"{}", headers=headers)
        assert (response.status, await read_whole(response)) == (200, b"{}")
        await upstream.close()
    sent = server.requests[0]
    assert sent.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert b"Authorization: Bearer sk-provider-secret\r\n" in sent
    assert b"kp_client" not in sent
    assert b"Injected" not in sent
    assert b"x-stainless-lang: python\r\n" in sent
    assert b"Accept-Encoding: identity\r\n" in sent


async def test_if_nothing_listens_then_502_without_the_address(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with serve(replying(OK)) as server:
        pass
    upstream = await started(url(server))
    with pytest.raises(BadGatewayError) as raised:
        await upstream.send("GET", "/models", body=None, headers={})
    await upstream.close()
    assert str(server.port) not in raised.value.message
    assert "ConnectError" in caplog.text


async def test_if_no_answer_in_time_then_504_that_reached_upstream() -> None:
    async with serve(replying()) as server:  # reads the request, never answers
        upstream = await started(url(server), read=0.2)
        with pytest.raises(UpstreamTimeoutError) as raised:
            await upstream.send("POST", "/embeddings", body=b"{}", headers={})
        await upstream.close()
    assert raised.value.status == 504
    assert raised.value.reached_upstream


async def test_a_whole_answer_that_trickles_in_is_cut_off_at_the_read_timeout() -> None:
    # A byte every 50 ms: 50 s in all, each within the 0.5 s timeout.
    async with serve(trickling(1000, every=0.05)) as server:
        upstream = await started(url(server), read=0.5)
        response = await upstream.send("POST", "/chat/completions", body=b"{}", headers={})
        started_at = time.monotonic()
        with pytest.raises(UpstreamTimeoutError) as raised:
            await read_whole(response)
        took = time.monotonic() - started_at
        await upstream.close()
    assert raised.value.reached_upstream
    assert 0.4 < took < 2


async def test_a_stream_may_take_longer_than_the_read_timeout_in_all() -> None:
    # A second in all, each byte within the 0.5 s timeout.
    async with serve(trickling(10, every=0.1)) as server:
        upstream = await started(url(server), read=0.5)
        response = await upstream.send("POST", "/chat/completions", body=b"{}", headers={})
        received = b"".join([chunk async for chunk in response])
        await upstream.close()
    assert received == b"x" * 10


async def test_if_no_connection_in_time_then_504_that_did_not_reach_upstream() -> None:
    async with serve(replying()) as server:  # plain TCP: a TLS handshake never ends
        upstream = await started(url(server, "https"), connect=0.2)
        with pytest.raises(UpstreamTimeoutError) as raised:
            await upstream.send("POST", "/embeddings", body=b"{}", headers={})
        await upstream.close()
    assert not raised.value.reached_upstream


async def test_if_the_answer_breaks_off_then_502() -> None:
    short = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{"
    async with serve(replying(short, keep=False)) as server:
        upstream = await started(url(server))
        response = await upstream.send("GET", "/models", body=None, headers={})
        with pytest.raises(BadGatewayError):
            await read_whole(response)
        await upstream.close()


async def test_an_answer_longer_than_the_limit_is_cut_off_with_502_not_held_in_memory() -> None:
    sent = 0

    async def endless(writer: asyncio.StreamWriter, index: int) -> bool:
        nonlocal sent
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"4000\r\n" + b"x" * 0x4000 + b"\r\n"
        with contextlib.suppress(ConnectionError):
            while sent < 1 << 30:  # a gigabyte, unless the reader hangs up
                writer.write(chunk)
                await writer.drain()
                sent += 0x4000
        return False

    async with serve(endless) as server:
        upstream = await started(url(server))
        response = await upstream.send("POST", "/images/generations", body=b"{}", headers={})
        with pytest.raises(BadGatewayError) as raised:
            await read_whole(response, limit=256 * 1024)
        await upstream.close()
    assert raised.value.code == "upstream_answer_too_large"
    assert "262,144 bytes" in raised.value.message
    assert sent < 16 * 1024 * 1024  # the connection was closed, so the upstream stopped


async def test_if_the_upstream_hangs_up_after_reading_the_call_then_502_that_reached_it() -> None:
    async with serve(replying(keep=False)) as server:
        upstream = await started(url(server))
        with pytest.raises(UpstreamAnswerError) as raised:
            await upstream.send("POST", "/chat/completions", body=b"{}", headers={})
        await upstream.close()
    assert len(server.requests) == 1  # it read the call
    assert raised.value.status == 502
    assert raised.value.code == "upstream_broke_off"


async def test_an_answer_head_longer_than_64_kib_is_cut_off_with_502_not_held_in_memory() -> None:
    endless = EndlessHead()
    async with serve(endless) as server:
        upstream = await started(url(server))
        with pytest.raises(UpstreamAnswerTooLargeError) as raised:
            await upstream.send("POST", "/chat/completions", body=b"{}", headers={})
        await upstream.close()
    assert raised.value.status == 502
    assert raised.value.code == "upstream_answer_too_large"
    assert "head was longer than the gateway relays (65,536 bytes)" in raised.value.message
    assert endless.sent < 16 * 1024 * 1024  # the connection was closed, so the upstream stopped


async def test_a_long_head_within_the_bound_arriving_with_its_body_in_one_read_is_relayed() -> None:
    body = b"x" * (256 * 1024)
    head = b"HTTP/1.1 200 OK\r\nx-long: " + b"h" * 60_000 + b"\r\n"
    answer = head + b"Content-Length: %d\r\n\r\n" % len(body) + body  # one write

    async with serve(replying(answer)) as server:
        upstream = await started(url(server))
        response = await upstream.send("POST", "/chat/completions", body=b"{}", headers={})
        assert await read_whole(response) == body
        await upstream.close()


@pytest.mark.parametrize(
    ("base_url", "api_key", "names"),
    [
        ("http://127.0.0.1:9/v1", None, "KEYPLANE_UPSTREAM_API_KEY"),
        ("ftp://example.com/v1", PROVIDER_KEY, "KEYPLANE_UPSTREAM_BASE_URL"),
    ],
)
async def test_if_not_configured_then_503_naming_the_setting(
    base_url: str, api_key: SecretStr | None, names: str
) -> None:
    upstream = Upstream(base_url=base_url, api_key=api_key)
    await upstream.start()
    with pytest.raises(UnavailableError) as raised:
        await upstream.send("GET", "/models", body=None, headers={})
    await upstream.close()
    assert names in raised.value.message
