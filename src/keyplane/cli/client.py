"""A small HTTP client of keyplane's admin API for the CLI."""

from __future__ import annotations

from typing import Any

import httpx

from keyplane.cli.errors import CliError
from keyplane.cli.flags import flag_message
from keyplane.config import ClientSettings
from keyplane.logs import redact_text


class AdminClient:
    """Talks to ``KEYPLANE_URL`` with ``KEYPLANE_ADMIN_KEY``; every failure is a ``CliError``."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        require_key: bool = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = _base_url(settings.url)
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


def _base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.lower().startswith(("http://", "https://")):
        shown = redact_text(url)[:80]
        raise CliError(
            f"KEYPLANE_URL must start with http:// or https:// (got {shown!r}); "
            f"for example KEYPLANE_URL=http://{shown or '127.0.0.1:8080'}"
        )
    return url


def _error_line(response: httpx.Response) -> str:
    param = None
    try:
        error = response.json()["error"]
        message = str(error["message"])
        param = error.get("param")
    except (ValueError, KeyError, TypeError, AttributeError):
        message = response.text.strip()[:200] or response.reason_phrase
    # The server never echoes a secret; this is the CLI's own last line of defence.
    message = redact_text(message)
    flagged = flag_message(param if isinstance(param, str) else None, message)
    return f"server answered {response.status_code}: {flagged or message}"
