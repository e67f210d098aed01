"""keyplane's one error tree. Services raise these; each surface renders them once.

    KeyplaneError                      500  internal_error
    ├── BadRequestError                400  invalid_request
    │   └── ValidationFailedError      422  invalid_value
    ├── AuthenticationError            401  invalid_api_key
    │   └── MalformedKeyError          401  invalid_api_key  (bad shape or checksum)
    ├── PermissionDeniedError          403  permission_denied
    ├── NotFoundError                  404  not_found
    ├── ConflictError                  409  conflict
    ├── RateLimitedError               429  rate_limit_exceeded
    │   └── BudgetExceededError        429  insufficient_quota
    ├── BadGatewayError                502  upstream_unreachable
    ├── UnavailableError               503  service_unavailable
    └── GatewayTimeoutError            504  upstream_timeout

``status`` is the HTTP status, ``code`` a stable machine-readable string, ``type`` the
OpenAI error ``type`` so the ``openai`` SDK raises its usual classes. Messages are shown to
users: they say what to fix and never contain key material.
"""

from __future__ import annotations


class KeyplaneError(Exception):
    """Base of every error keyplane raises on purpose."""

    status = 500
    code = "internal_error"
    type = "server_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        # Response headers that go with the error, e.g. ``retry-after`` on a 429.
        self.headers = headers or {}
        if code is not None:
            self.code = code


class BadRequestError(KeyplaneError):
    status = 400
    code = "invalid_request"
    type = "invalid_request_error"


class ValidationFailedError(BadRequestError):
    status = 422
    code = "invalid_value"


class AuthenticationError(KeyplaneError):
    status = 401
    code = "invalid_api_key"
    type = "invalid_request_error"


class MalformedKeyError(AuthenticationError):
    """A string that is not a key of this deployment: bad shape or checksum."""

    code = "invalid_api_key"


class PermissionDeniedError(KeyplaneError):
    status = 403
    code = "permission_denied"
    type = "invalid_request_error"


class NotFoundError(KeyplaneError):
    status = 404
    code = "not_found"
    type = "invalid_request_error"


class ConflictError(KeyplaneError):
    status = 409
    code = "conflict"
    type = "invalid_request_error"


class RateLimitedError(KeyplaneError):
    """A limit refused the call; ``retry_after`` says in how many seconds it may pass."""

    status = 429
    code = "rate_limit_exceeded"
    type = "requests"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float = 1.0,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, code=code, headers=headers)
        self.retry_after = retry_after


class BudgetExceededError(RateLimitedError):
    """A spend budget is used up (OpenAI's ``insufficient_quota``)."""

    code = "insufficient_quota"


class UnavailableError(KeyplaneError):
    status = 503
    code = "service_unavailable"
    type = "server_error"


class BadGatewayError(KeyplaneError):
    """The gateway could not reach the upstream provider, or it broke off its answer."""

    status = 502
    code = "upstream_unreachable"
    type = "server_error"


class GatewayTimeoutError(KeyplaneError):
    """The upstream provider did not answer in time."""

    status = 504
    code = "upstream_timeout"
    type = "server_error"
