"""One request at the door: read the presented key, verify it, and let it in or refuse it.

Shared by the ASGI middleware and the FastAPI dependency, so both refuse alike: 401 for a
missing or bad key, 403 for missing scopes, 429 for a spent limit, 503 when keyplane cannot be
asked, each with a JSON body ``{"detail": {"code", "message"}}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from keyplane.sdk.verdict import VerifiedKey, VerifyCode, VerifyResult
from keyplane.sdk.verifier import AsyncVerifier

DEFAULT_HEADER = "Authorization"

_STATUS: dict[str, int] = {
    VerifyCode.INSUFFICIENT_PERMISSIONS: 403,
    VerifyCode.RATE_LIMITED: 429,
    VerifyCode.USAGE_EXCEEDED: 429,
    VerifyCode.UNAVAILABLE: 503,
}

_MESSAGES: dict[str, str] = {
    VerifyCode.MALFORMED: "The API key is malformed; check for a typo.",
    VerifyCode.NOT_FOUND: "Unknown API key.",
    VerifyCode.REVOKED: "This API key has been revoked.",
    VerifyCode.EXPIRED: "This API key has expired.",
    VerifyCode.DISABLED: "This API key is disabled.",
    VerifyCode.PROJECT_ARCHIVED: "This API key's project is archived.",
    VerifyCode.INSUFFICIENT_PERMISSIONS: "This API key lacks a needed scope.",
    VerifyCode.RATE_LIMITED: "Rate limit reached for this API key; retry later.",
    VerifyCode.USAGE_EXCEEDED: "This API key has used up its allowance.",
    VerifyCode.UNAVAILABLE: "API keys cannot be checked right now; try again shortly.",
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """An HTTP refusal: status, a stable code and a message that says what to fix."""

    status: int
    code: str
    message: str

    @property
    def detail(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}

    @property
    def body(self) -> dict[str, Any]:
        return {"detail": self.detail}

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"} if self.status == 401 else {}


def refusal_for(result: VerifyResult) -> Refusal | None:
    """``None`` for a valid verdict, else how to refuse the request."""
    if result.valid:
        return None
    message = _MESSAGES.get(result.code, f"The API key was refused ({result.code}).")
    if result.missing_scopes:
        message = f"{message[:-1]}: {', '.join(result.missing_scopes)}."
    return Refusal(_STATUS.get(result.code, 401), result.code, message)


def presented_key(value: str | None, *, header: str = DEFAULT_HEADER) -> str | None:
    """The key in a header's value: after ``Bearer`` in ``Authorization``, else the value."""
    if not value:
        return None
    if header.lower() == "authorization":
        scheme, _, value = value.strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
    return value.strip() or None


def missing(header: str) -> Refusal:
    how = "Authorization: Bearer <key>" if header.lower() == "authorization" else f"{header}: <key>"
    return Refusal(401, VerifyCode.MISSING, f"An API key is required; send it as '{how}'.")


async def admit(
    verifier: AsyncVerifier, value: str | None, *, header: str, scopes: Sequence[str]
) -> VerifiedKey | Refusal:
    """The verified key behind a header's ``value``, or the refusal to answer with."""
    key = presented_key(value, header=header)
    if key is None:
        return missing(header)
    result = await verifier.verify(key, scopes=scopes)
    return refusal_for(result) or result.verified_key()
