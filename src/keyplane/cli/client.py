"""A small HTTP client of keyplane's admin API for the CLI."""

from __future__ import annotations

from typing import Any

import httpx

from keyplane.cli.errors import CliError
from keyplane.config import ClientSettings


class AdminClient:
    """Talks to ``KEYPLANE_URL`` with ``KEYPLANE_ADMIN_KEY``; every failure is a ``CliError``."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        require_key: bool = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = settings.url.rstrip("/")
        headers = {"User-Agent": "keyplane-cli"}
        if settings.admin_key is not None:
            headers["Authorization"] = f"Bearer {settings.admin_key.get_secret_value()}"
        elif require_key:
            raise CliError(
                "no admin key: set KEYPLANE_ADMIN_KEY in the environment or in .env "
                "(keyplane init prints the first one)"
            )
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=settings.timeout_seconds,
            transport=transport,
        )

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send one request; return the decoded JSON body of a 2xx answer."""
        try:
            response = self._http.request(method, path, json=json, params=params, headers=headers)
        except httpx.TimeoutException:
            raise CliError(f"keyplane server at {self.base_url} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise CliError(
                f"cannot reach keyplane server at {self.base_url} ({type(exc).__name__}); "
                "is it running? set KEYPLANE_URL to point elsewhere"
            ) from None
        if response.is_success:
            return response.json() if response.content else None
        raise CliError(_error_line(response), status=response.status_code)

    def get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=clean)


def _error_line(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        message = str(error["message"])
    except (ValueError, KeyError, TypeError):
        message = response.text.strip()[:200] or response.reason_phrase
    return f"server answered {response.status_code}: {message}"
