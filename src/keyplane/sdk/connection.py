"""Where the server is and how to talk to it, shared by the blocking and asyncio clients."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from keyplane import __version__
from keyplane.sdk.calls import Call
from keyplane.sdk.env import DEFAULT_URL, setting
from keyplane.sdk.errors import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    InvalidResponseError,
    error_from_response,
)

T = TypeVar("T")
Timeout = float | httpx.Timeout


@dataclass(frozen=True, slots=True)
class Connection:
    """A resolved base URL, request headers (with the admin key) and timeout."""

    base_url: str
    headers: dict[str, str]
    timeout: httpx.Timeout

    @classmethod
    def resolve(
        cls,
        base_url: str | None,
        admin_key: str | None,
        *,
        timeout: Timeout,
        env_file: str | Path | None,
    ) -> Connection:
        """Explicit arguments first, then ``KEYPLANE_URL``/``KEYPLANE_ADMIN_KEY``, then ``.env``."""
        url = (base_url or setting("KEYPLANE_URL", env_file=env_file) or DEFAULT_URL).rstrip("/")
        if httpx.URL(url).scheme not in ("http", "https"):
            raise ConfigurationError(f"the keyplane URL must start with http:// or https://: {url}")
        key = admin_key or setting("KEYPLANE_ADMIN_KEY", env_file=env_file)
        if not key:
            raise ConfigurationError(
                "no admin key: pass admin_key=, or set KEYPLANE_ADMIN_KEY in the environment "
                "or in .env (keyplane init prints the first one)"
            )
        headers = {
            "Authorization": f"Bearer {key}",
            "User-Agent": f"keyplane-python/{__version__}",
        }
        limits = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        return cls(base_url=url, headers=headers, timeout=limits)

    def options(self) -> dict[str, Any]:
        """Keyword arguments for ``httpx.Client`` or ``httpx.AsyncClient``."""
        return {"base_url": self.base_url, "headers": self.headers, "timeout": self.timeout}


@contextmanager
def reaching(base_url: str) -> Iterator[None]:
    """Turn httpx's transport failures into the SDK's connection errors."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise APITimeoutError(f"keyplane at {base_url} did not answer in time") from exc
    except httpx.TransportError as exc:
        raise APIConnectionError(
            f"cannot reach keyplane at {base_url} ({type(exc).__name__}); is it running?"
        ) from exc


def read(response: httpx.Response, call: Call[T]) -> T:
    """The parsed body of a 2xx answer; the typed error of any other."""
    if response.is_error:
        raise error_from_response(response)
    try:
        return call.parse(response.json())
    except ValueError as exc:  # bad JSON, or pydantic's ValidationError (a ValueError)
        raise InvalidResponseError(
            f"unexpected answer to {call.method} {call.path} (HTTP {response.status_code})"
        ) from exc
