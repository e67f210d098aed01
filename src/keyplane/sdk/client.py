"""``Client`` and ``AsyncClient``: keyplane's admin API from Python."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import TypeVar

import httpx

from keyplane.sdk import async_resources as aio
from keyplane.sdk import resources
from keyplane.sdk.calls import Call
from keyplane.sdk.connection import Connection, Timeout, reaching, read

T = TypeVar("T")


class Client:
    """A blocking client of the admin API.

    Args:
        base_url: the server; default ``KEYPLANE_URL``, then ``http://127.0.0.1:8080``.
        admin_key: an admin key; default ``KEYPLANE_ADMIN_KEY``. The environment wins over
            ``env_file`` (default ``.env`` in the working directory; ``None`` to skip it).
        timeout: seconds, or an ``httpx.Timeout``, for every request.
        transport: an httpx transport to send through (a proxy, a test double).

    Raises:
        ConfigurationError: no admin key, or a URL that is not http(s).
    """

    def __init__(
        self,
        base_url: str | None = None,
        admin_key: str | None = None,
        *,
        timeout: Timeout = 30.0,
        env_file: str | Path | None = ".env",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        connection = Connection.resolve(base_url, admin_key, timeout=timeout, env_file=env_file)
        self.base_url = connection.base_url
        self._http = httpx.Client(transport=transport, **connection.options())
        self.projects = resources.Projects(self._send)
        self.keys = resources.Keys(self._send)
        self.admin_keys = resources.AdminKeys(self._send)
        self.audit_logs = resources.AuditLogs(self._send)
        self.usage = resources.Usage(self._send)

    def _send(self, call: Call[T]) -> T:
        with reaching(self.base_url):
            response = self._http.request(
                call.method, call.path, params=call.params, json=call.json, headers=call.headers
            )
        return read(response, call)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r})"


class AsyncClient:
    """The asyncio twin of ``Client``: the same arguments, awaitable methods."""

    def __init__(
        self,
        base_url: str | None = None,
        admin_key: str | None = None,
        *,
        timeout: Timeout = 30.0,
        env_file: str | Path | None = ".env",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        connection = Connection.resolve(base_url, admin_key, timeout=timeout, env_file=env_file)
        self.base_url = connection.base_url
        self._http = httpx.AsyncClient(transport=transport, **connection.options())
        self.projects = aio.Projects(self._send)
        self.keys = aio.Keys(self._send)
        self.admin_keys = aio.AdminKeys(self._send)
        self.audit_logs = aio.AuditLogs(self._send)
        self.usage = aio.Usage(self._send)

    async def _send(self, call: Call[T]) -> T:
        with reaching(self.base_url):
            response = await self._http.request(
                call.method, call.path, params=call.params, json=call.json, headers=call.headers
            )
        return read(response, call)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncClient(base_url={self.base_url!r})"
