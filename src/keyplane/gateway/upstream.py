"""A pooled HTTP client to one upstream provider, opened and closed in the lifespan.

keyplane's own HTTP/1.1 client (``gateway.pool`` over ``gateway.http1``) rather than a
general one, by measurement (docs/benchmarks.md): with it keyplane spends about 210 µs of
CPU per proxied call on this machine, against 365 µs with aiohttp's ``ClientSession``;
httpx cost ten times what aiohttp did. The provider key is added here and nowhere else; it
is never logged and never copied into an answer. Each configured upstream has its own
client (``gateway.upstreams``); the provider decides the header that carries the key.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import SecretStr

from keyplane.errors import BadGatewayError, GatewayTimeoutError, UnavailableError
from keyplane.gateway.http1 import (
    MAX_HEAD_BYTES,
    ConnectError,
    ConnectTimeoutError,
    ProtocolError,
    ReadTimeoutError,
    Response,
    TooLargeError,
    TransportError,
)
from keyplane.gateway.pool import Origin, Pool, PoolLimits

logger = logging.getLogger(__name__)

# The most of a whole (not streamed) answer the gateway holds: twice what ten of the largest
# base64 images weigh, ``KEYPLANE_UPSTREAM_MAX_ANSWER_BYTES``.
MAX_ANSWER_BYTES = 128 * 1024 * 1024

MISSING_KEY = (
    "The gateway has no upstream API key. Set KEYPLANE_UPSTREAM_API_KEY (or OPENAI_API_KEY) "
    "in keyplane's environment or .env file and restart it."
)
# Headers the gateway sets itself, whatever the caller passes; the credential headers of
# every provider among them, so a keyplane key a client sent never travels upstream.
_OWN = frozenset(
    {"host", "authorization", "accept-encoding", "content-length", "connection"}
    | {"x-api-key", "api-key"}
)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to connect, and to wait for each read of the answer (streams included); for a
    free pooled connection, and for the answer's first byte."""

    connect: float = 10.0
    read: float = 600.0
    pool: float = 10.0
    first_byte: float = 300.0


class Upstream:
    """Sends calls to ``base_url`` with the provider key; maps transport failures to errors."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: SecretStr | None,
        timeouts: Timeouts = Timeouts(),
        max_connections: int = 1000,
        tls: ssl.SSLContext | None = None,
        key_header: str = "Authorization",
        key_scheme: str = "Bearer ",
        headers: Mapping[str, str] | None = None,
        missing_key: str = MISSING_KEY,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        secret = api_key.get_secret_value() if api_key else None
        self._authorization = f"{key_scheme}{secret}" if secret else None
        self._missing_key = missing_key
        self._limits = PoolLimits(
            connect_timeout=timeouts.connect,
            read_timeout=timeouts.read,
            pool_timeout=timeouts.pool,
            first_byte_timeout=timeouts.first_byte,
            max_connections=max_connections,
        )
        self._tls = tls
        self._pool: Pool | None = None
        self._prefix = ""
        # The answer goes to the client as it came: no compression asked for.
        fixed = [f"{key_header}: {self._authorization}", "Accept-Encoding: identity"]
        fixed += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self._fixed = "".join(line + "\r\n" for line in fixed)
        self._own = _OWN | {name.lower() for name in (headers or {})} | {key_header.lower()}

    @property
    def configured(self) -> bool:
        return self._authorization is not None

    def check_configured(self) -> None:
        """Refuse (503) before a call is admitted when this upstream has no key."""
        if self._authorization is None:
            raise UnavailableError(self._missing_key, code="upstream_not_configured")

    async def start(self) -> None:
        try:
            origin, self._prefix = Origin.split(self.base_url)
        except ValueError:
            logger.error("KEYPLANE_UPSTREAM_BASE_URL is not an http(s) URL; calls will fail")
            return
        self._pool = Pool(origin, self._limits, tls=self._tls)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def send(
        self, method: str, path: str, *, body: bytes | None, headers: Mapping[str, str]
    ) -> Response:
        """Send a call; the caller reads the response (``read_whole``) or closes it.

        Raises:
            UnavailableError: no provider key is configured, or no usable base URL (503).
            BadGatewayError: the upstream could not be reached (502).
            UpstreamAnswerError: the call was sent, and the connection then broke off or
                the answer's head was malformed or longer than ``MAX_HEAD_BYTES`` (502; it
                reached the provider).
            GatewayTimeoutError: it did not answer in time (504).
        """
        if self._authorization is None:
            raise UnavailableError(self._missing_key, code="upstream_not_configured")
        if self._pool is None:
            raise UnavailableError(
                "The gateway has no usable upstream: check KEYPLANE_UPSTREAM_BASE_URL.",
                code="service_unavailable",
            )
        lines = [self._fixed]
        for name, value in headers.items():
            text = name + value
            # Names and values with line breaks would forge headers: never forwarded.
            if "\n" not in text and "\r" not in text and name.lower() not in self._own:
                lines.append(f"{name}: {value}\r\n")
        try:
            return await self._pool.request(method, self._prefix + path, "".join(lines), body)
        except ConnectTimeoutError:
            raise UpstreamTimeoutError(reached_upstream=False) from None
        except ReadTimeoutError:
            raise UpstreamTimeoutError(reached_upstream=True) from None
        except TooLargeError:
            raise _too_large("head", MAX_HEAD_BYTES, "") from None
        except ProtocolError as error:  # after the request was sent: it may have run
            logger.warning("upstream call broke off: %s", error)
            raise UpstreamAnswerError(
                "The upstream provider broke off the call before answering.",
                code="upstream_broke_off",
            ) from None
        except ConnectError as error:
            unreachable_error(error)  # logged
            raise UpstreamConnectError("The upstream provider could not be reached.") from None
        except TransportError as error:
            raise unreachable_error(error) from None


async def read_whole(response: Response, limit: int = MAX_ANSWER_BYTES) -> bytes:
    """The whole answer, its connection released; at most ``limit`` bytes of it.

    Raises:
        BadGatewayError: the connection broke off, or the answer is longer than ``limit``
            (502; the connection is closed, so the upstream stops sending).
        UpstreamTimeoutError: the upstream stopped sending (504).
    """
    try:
        return await response.read(limit)
    except ReadTimeoutError:
        raise UpstreamTimeoutError(reached_upstream=True) from None
    except TooLargeError:
        raise _too_large("answer", limit, " (KEYPLANE_UPSTREAM_MAX_ANSWER_BYTES)") from None
    except TransportError as error:
        raise unreachable_error(error) from None
    finally:
        response.release()


class UpstreamConnectError(BadGatewayError):
    """A 502 before anything was sent: no connection could be made, so a fallback may try."""


class UpstreamAnswerError(BadGatewayError):
    """A 502 for a call that got to the provider, whose answer cannot be relayed: it broke
    off before its head, or was malformed, or too large. The provider may have run the call,
    so it is metered (with its prompt counted)."""


class UpstreamAnswerTooLargeError(UpstreamAnswerError):
    """A 502 for an answer, or its head, longer than the gateway holds."""

    code = "upstream_answer_too_large"


def _too_large(part: str, limit: int, setting: str) -> UpstreamAnswerTooLargeError:
    logger.warning(
        "an upstream %s was longer than %d bytes%s; it was not relayed", part, limit, setting
    )
    return UpstreamAnswerTooLargeError(
        f"The upstream provider's {part} was longer than the gateway relays ({limit:,} bytes), "
        "so it was not relayed."
    )


class UpstreamTimeoutError(GatewayTimeoutError):
    """A 504 that knows whether the call got to the provider (and so is metered)."""

    def __init__(self, *, reached_upstream: bool) -> None:
        super().__init__("The upstream provider did not answer in time.")
        self.reached_upstream = reached_upstream


def unreachable_error(error: BaseException) -> BadGatewayError:
    # The exception's text may carry the upstream URL; keep it in the log, not the answer.
    logger.warning("upstream call failed: %s: %s", type(error).__name__, error)
    return BadGatewayError("The upstream provider could not be reached.")
