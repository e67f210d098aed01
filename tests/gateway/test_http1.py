"""The gateway's HTTP/1.1 client against real local sockets: plain, TLS, broken servers."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from pathlib import Path

import pytest
import uvloop
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from keyplane.gateway.http1 import (
    HIGH_WATER,
    ClosedError,
    ConnectError,
    ConnectTimeoutError,
    ProtocolError,
    ReadTimeoutError,
)
from keyplane.gateway.pool import Origin, Pool, PoolLimits
from support.scripted_server import Server, replying, serve

LOOPBACK = ipaddress.IPv4Address("127.0.0.1")
HELLO = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Id: 7\r\n\r\n"
    b"5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n"
)


def pool_for(server: Server, scheme: str = "http", **limits: float) -> Pool:
    return Pool(Origin(scheme, "127.0.0.1", server.port), PoolLimits(**limits))  # type: ignore[arg-type]


async def get(pool: Pool, target: str = "/v1/x", body: bytes | None = None) -> tuple[int, bytes]:
    response = await pool.request("POST" if body else "GET", target, "X-A: 1\r\n", body)
    return response.status, await response.read()


async def test_keep_alive_reuses_one_connection_and_writes_one_request() -> None:
    async with serve(replying(HELLO)) as server:
        pool = pool_for(server)
        assert await get(pool, body=b'{"a":1}') == (200, b"hello")
        assert await get(pool) == (200, b"hello")
        await pool.close()
    assert server.connections == 1
    assert server.requests[0] == (
        b"POST /v1/x HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-A: 1\r\nContent-Length: 7\r\n\r\n"
        b'{"a":1}' % server.port
    )
    assert server.requests[1].startswith(b"GET /v1/x HTTP/1.1\r\n")
    assert b"content-length" not in server.requests[1].lower()


async def test_chunked_body_and_raw_headers_are_read() -> None:
    async with serve(replying(CHUNKED)) as server:
        pool = pool_for(server)
        response = await pool.request("GET", "/", "", None)
        assert response.status == 200
        assert (b"X-Id", b"7") in response.raw_headers
        assert await response.read() == b"hello, world"
        await pool.close()


@pytest.mark.parametrize("answer", [HELLO, CHUNKED], ids=["content-length", "chunked"])
async def test_an_answer_split_at_any_byte_is_read_whole(answer: bytes) -> None:
    expected = b"hello" if answer is HELLO else b"hello, world"
    splits = list(range(1, len(answer)))

    async def split(writer: asyncio.StreamWriter, index: int) -> bool:
        return await replying(answer[: splits[index]], answer[splits[index] :])(writer, index)

    async with serve(split) as server:
        pool = pool_for(server)
        for _ in splits:
            assert await get(pool) == (200, expected)
        await pool.close()
    assert server.connections == 1


async def test_a_stream_yields_chunks_as_they_arrive() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    gate = asyncio.Event()

    async def stream(writer: asyncio.StreamWriter, index: int) -> bool:
        writer.write(head + b"6\r\ndata 1\r\n")
        await gate.wait()
        writer.write(b"6\r\ndata 2\r\n0\r\n\r\n")
        return True

    async with serve(stream) as server:
        pool = pool_for(server)
        response = await pool.request("GET", "/", "", None)
        chunks = aiter(response)
        assert await anext(chunks) == b"data 1"
        gate.set()
        assert [chunk async for chunk in chunks] == [b"data 2"]
        assert await get(pool) == (200, b"data 1data 2")  # and the connection was reused
        await pool.close()
    assert server.connections == 1


async def test_a_body_until_close_is_read_and_the_connection_not_reused() -> None:
    until_close = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it"
    async with serve(replying(until_close, keep=False)) as server:
        pool = pool_for(server)
        assert await get(pool) == (200, b"all of it")
        assert await get(pool) == (200, b"all of it")
        await pool.close()
    assert server.connections == 2


async def test_if_server_closes_mid_body_then_protocol_error() -> None:
    short = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"
    async with serve(replying(short, keep=False)) as server:
        pool = pool_for(server)
        response = await pool.request("GET", "/", "", None)
        with pytest.raises(ProtocolError):
            await response.read()
        await pool.close()


async def test_if_server_closes_without_answering_then_protocol_error() -> None:
    async with serve(replying(keep=False)) as server:
        pool = pool_for(server)
        with pytest.raises(ProtocolError):
            await pool.request("GET", "/", "", None)
        await pool.close()


async def test_if_server_sends_garbage_then_protocol_error() -> None:
    async with serve(replying(b"SMTP ready\r\n\r\n")) as server:
        pool = pool_for(server)
        with pytest.raises(ProtocolError):
            await pool.request("GET", "/", "", None)
        await pool.close()


async def test_an_interim_answer_is_skipped() -> None:
    async with serve(replying(b"HTTP/1.1 100 Continue\r\n\r\n" + HELLO)) as server:
        pool = pool_for(server)
        assert await get(pool) == (200, b"hello")
        await pool.close()


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async with serve(replying(HELLO, keep=False)) as server:
        pool = pool_for(server)
        assert await get(pool) == (200, b"hello")  # keep-alive said yes; then the server left
        await asyncio.sleep(0.05)
        assert await get(pool) == (200, b"hello")
        await pool.close()
    assert server.connections == 2


@pytest.mark.parametrize(("body", "retried"), [(None, True), (b"{}", False)], ids=["GET", "POST"])
async def test_if_a_reused_connection_is_closed_under_a_request_then_only_get_is_retried(
    body: bytes | None, retried: bool
) -> None:
    async def closing_the_second(writer: asyncio.StreamWriter, index: int) -> bool:
        if index == 1:  # the server gave up on the kept connection as the request came
            return False
        writer.write(HELLO)
        return True

    async with serve(closing_the_second) as server:
        pool = pool_for(server)
        assert await get(pool) == (200, b"hello")
        if retried:
            assert await get(pool, body=body) == (200, b"hello")
        else:
            with pytest.raises(ProtocolError):
                await get(pool, body=body)
        await pool.close()
    assert len(server.requests) == 2 + retried


async def test_if_nothing_listens_then_connect_error() -> None:
    async with serve(replying(HELLO)) as server:
        pass
    pool = pool_for(server)
    with pytest.raises(ConnectError):
        await get(pool)
    await pool.close()


async def test_if_handshake_never_ends_then_connect_timeout() -> None:
    async with serve(replying()) as server:  # plain TCP that never speaks TLS
        pool = pool_for(server, "https", connect_timeout=0.2)
        with pytest.raises(ConnectTimeoutError):
            await get(pool)
        await pool.close()


async def test_if_no_answer_in_time_then_read_timeout() -> None:
    async def stalling(writer: asyncio.StreamWriter, index: int) -> bool:
        if index == 0:  # the headers and part of the body, then silence; then not even that
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe")
        return True

    async with serve(stalling) as server:
        pool = pool_for(server, read_timeout=0.2)
        response = await pool.request("GET", "/", "", None)
        with pytest.raises(ReadTimeoutError):
            await response.read()
        with pytest.raises(ReadTimeoutError):
            await pool.request("GET", "/", "", None)
        await pool.close()
    assert server.connections == 2  # a timed-out connection is not reused


@pytest.mark.parametrize(
    "head",
    [b"", b"HTTP/1.1 100 Continue\r\n\r\n"],
    ids=["silent", "interim answers only"],
)
async def test_if_no_head_comes_by_the_first_byte_deadline_then_read_timeout(head: bytes) -> None:
    async def trickling(writer: asyncio.StreamWriter, index: int) -> bool:
        for _ in range(40):  # bytes keep coming, each well within the read timeout
            writer.write(head)
            await writer.drain()
            await asyncio.sleep(0.05)
        return False

    async with serve(trickling) as server:
        pool = pool_for(server, read_timeout=1.0, first_byte_timeout=0.3)
        started = asyncio.get_running_loop().time()
        with pytest.raises(ReadTimeoutError, match="no answer in time"):
            await pool.request("GET", "/", "", None)
        assert 0.25 < asyncio.get_running_loop().time() - started < 0.9
        await pool.close()


async def test_closing_a_response_mid_stream_closes_its_connection() -> None:
    left = asyncio.Event()

    async def endless(writer: asyncio.StreamWriter, index: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            while True:
                writer.write(b"5\r\ntick \r\n")
                await writer.drain()
                await asyncio.sleep(0.01)
        except ConnectionError:
            left.set()
            return False

    async with serve(endless) as server:
        pool = pool_for(server)
        response = await pool.request("GET", "/", "", None)
        assert (await anext(aiter(response))).startswith(b"tick ")
        response.close()
        with pytest.raises(ClosedError):
            await response.read()
        await asyncio.wait_for(left.wait(), 5)
        await pool.close()


async def test_reading_pauses_while_the_consumer_lags() -> None:
    size = 16 * 2**20
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size
    async with serve(replying(head + b"x" * size)) as server:
        pool = pool_for(server)
        response = await pool.request("GET", "/", "", None)
        await asyncio.sleep(0.3)  # the server could write it all in this time
        assert response.buffered < HIGH_WATER + 2**20
        assert len(await response.read()) == size
        await pool.close()


async def test_connections_are_limited_and_shared_by_waiting_calls() -> None:
    async with serve(replying(HELLO)) as server:
        pool = pool_for(server, max_connections=1)
        answers = await asyncio.gather(*(get(pool) for _ in range(5)))
        await pool.close()
    assert answers == [(200, b"hello")] * 5
    assert server.connections == 1


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_tls_is_verified_against_the_trusted_certificate(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    async with serve(replying(CHUNKED), tls=server_tls) as server:
        trusting = Pool(
            Origin("https", "127.0.0.1", server.port),
            tls=ssl.create_default_context(cafile=str(cert)),
        )
        assert await get(trusting) == (200, b"hello, world")
        assert await get(trusting) == (200, b"hello, world")
        await trusting.close()
        untrusting = pool_for(server, "https")  # the system's CAs do not know this one
        with pytest.raises(ConnectError):
            await get(untrusting)
        await untrusting.close()
    assert server.connections == 1  # the refused handshake never got to the server's handler


def test_the_client_works_on_uvloop() -> None:
    async def exchange() -> list[tuple[int, bytes]]:
        async with serve(replying(CHUNKED)) as server:
            pool = pool_for(server)
            answers = [await get(pool), await get(pool, body=b"{}")]
            await pool.close()
        assert server.connections == 1
        return answers

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(exchange()) == [(200, b"hello, world")] * 2


def test_origin_of_a_base_url() -> None:
    assert Origin.split("https://api.openai.com/v1/") == (
        Origin("https", "api.openai.com", 443),
        "/v1",
    )
    assert Origin.split("http://[::1]:8000/v1")[0].authority == "[::1]:8000"
    assert Origin.split("https://api.openai.com")[0].authority == "api.openai.com"
    with pytest.raises(ValueError, match="http"):
        Origin.split("ftp://example.com")
