"""What the SDK raises. Every error a keyplane server answers is parsed from its envelope.

    KeyplaneSDKError                      anything this SDK raises on purpose
    ├── ConfigurationError                no server URL or admin key to use
    ├── APIConnectionError                the server could not be reached
    │   └── APITimeoutError               ... or did not answer in time
    ├── InvalidResponseError              a 2xx answer the SDK cannot read
    └── APIStatusError                    the server answered 4xx/5xx
        ├── BadRequestError               400
        │   └── UnprocessableEntityError  422
        ├── AuthenticationError           401
        ├── PermissionDeniedError         403
        ├── NotFoundError                 404
        ├── ConflictError                 409
        ├── RateLimitError                429  (``retry_after`` in seconds when the server says)
        └── InternalServerError           5xx

``APIStatusError`` carries the envelope's ``message``, ``type``, ``param`` and ``code``, and the
``status_code``. Messages never contain key material: the server's never do, and the SDK adds none.
"""

from __future__ import annotations

from typing import Any

import httpx


class KeyplaneSDKError(Exception):
    """Base of every error the SDK raises on purpose."""


class ConfigurationError(KeyplaneSDKError):
    """A required setting (server URL, admin key) is missing or unusable."""


class APIConnectionError(KeyplaneSDKError):
    """The keyplane server could not be reached."""


class APITimeoutError(APIConnectionError):
    """The keyplane server did not answer within the timeout."""


class InvalidResponseError(KeyplaneSDKError):
    """A successful answer whose body does not have the expected shape."""


class APIStatusError(KeyplaneSDKError):
    """The server answered with an error status; fields come from its error envelope."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.type = type
        self.param = param
        self.code = code

    def __str__(self) -> str:
        return f"{self.status_code} {self.code or 'error'}: {self.message}"


class BadRequestError(APIStatusError):
    pass


class UnprocessableEntityError(BadRequestError):
    pass


class AuthenticationError(APIStatusError):
    pass


class PermissionDeniedError(APIStatusError):
    pass


class NotFoundError(APIStatusError):
    pass


class ConflictError(APIStatusError):
    pass


class RateLimitError(APIStatusError):
    def __init__(self, message: str, *, retry_after: float | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.retry_after = retry_after


class InternalServerError(APIStatusError):
    pass


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_from_response(response: httpx.Response) -> APIStatusError:
    """The typed error for a 4xx/5xx answer, read from the OpenAI-style envelope."""
    status = response.status_code
    envelope = _envelope(response)
    fields: dict[str, Any] = {
        "status_code": status,
        "type": _text(envelope.get("type")),
        "param": _text(envelope.get("param")),
        "code": _text(envelope.get("code")),
    }
    message = _text(envelope.get("message")) or response.reason_phrase or f"HTTP {status}"
    cls = _BY_STATUS.get(status) or (InternalServerError if status >= 500 else APIStatusError)
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=_retry_after(response), **fields)
    return cls(message, **fields)


def _envelope(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None
