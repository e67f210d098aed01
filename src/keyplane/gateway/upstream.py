"""The one pooled HTTP client to the upstream provider, opened and closed in the lifespan.

aiohttp rather than httpx: measured against the stand-in upstream at concurrency 32 on
this machine, aiohttp spent about 155 µs of CPU per call and httpx about 1,600 µs
(see docs/benchmarks.md). The provider key is added here and nowhere else; it is never
logged and never copied into an answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from pydantic import SecretStr
from yarl import URL

from keyplane.errors import BadGatewayError, GatewayTimeoutError, UnavailableError

logger = logging.getLogger(__name__)

MISSING_KEY = (
    "The gateway has no upstream API key. Set KEYPLANE_UPSTREAM_API_KEY (or OPENAI_API_KEY) "
    "in keyplane's environment or .env file and restart it."
)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to connect, and to wait for each read of the answer (streams included)."""

    connect: float = 10.0
    read: float = 600.0


class Upstream:
    """Sends calls to ``base_url`` with the provider key; maps transport failures to errors."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: SecretStr | None,
        timeouts: Timeouts = Timeouts(),
        max_connections: int = 1000,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._authorization = f"Bearer {api_key.get_secret_value()}" if api_key else None
        self._timeouts = timeouts
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[str, URL] = {}

    @property
    def configured(self) -> bool:
        return self._authorization is not None

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self._timeouts.connect, sock_read=self._timeouts.read
        )
        connector = aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=300)
        # The answer goes to the client as it came: no decompressing, and no cookie jar
        # shared between keyplane's many clients.
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent",),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _url(self, path: str) -> URL:
        url = self._urls.get(path)
        if url is None:
            url = URL(self.base_url + path)
            if len(self._urls) < 1000:  # paths with a model id come from clients: bound it
                self._urls[path] = url
        return url

    async def send(
        self, method: str, path: str, *, body: bytes | None, headers: Mapping[str, str]
    ) -> aiohttp.ClientResponse:
        """Send a call; the caller reads and releases the response.

        Raises:
            UnavailableError: no provider key is configured (503).
            BadGatewayError: the upstream could not be reached (502).
            GatewayTimeoutError: it did not answer in time (504).
        """
        if self._authorization is None:
            raise UnavailableError(MISSING_KEY, code="upstream_not_configured")
        if self._session is None:
            raise UnavailableError("The gateway is not started.", code="service_unavailable")
        outgoing = {**headers, "Authorization": self._authorization, "Accept-Encoding": "identity"}
        try:
            return await self._session.request(method, self._url(path), data=body, headers=outgoing)
        except aiohttp.ConnectionTimeoutError:
            raise UpstreamTimeoutError(reached_upstream=False) from None
        except TimeoutError:
            raise UpstreamTimeoutError(reached_upstream=True) from None
        except aiohttp.ClientError as error:
            raise unreachable_error(error) from None


class UpstreamTimeoutError(GatewayTimeoutError):
    """A 504 that knows whether the call got to the provider (and so is metered)."""

    def __init__(self, *, reached_upstream: bool) -> None:
        super().__init__("The upstream provider did not answer in time.")
        self.reached_upstream = reached_upstream


def unreachable_error(error: BaseException) -> BadGatewayError:
    # The exception's text may carry the upstream URL; keep it in the log, not the answer.
    logger.warning("upstream call failed: %s: %s", type(error).__name__, error)
    return BadGatewayError("The upstream provider could not be reached.")
