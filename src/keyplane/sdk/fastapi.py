"""FastAPI glue: ``key: VerifiedKey = Depends(require_key(scopes=["notes.read"]))``.

Importing this module imports FastAPI; ``keyplane.sdk`` itself never does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from fastapi import HTTPException, Request

from keyplane.sdk.gate import DEFAULT_HEADER, Refusal, admit
from keyplane.sdk.verdict import VerifiedKey
from keyplane.sdk.verifier import AsyncVerifier

STATE_VERIFIER = "keyplane_verifier"


def require_key(
    scopes: Sequence[str] = (),
    *,
    verifier: AsyncVerifier | None = None,
    header: str = DEFAULT_HEADER,
) -> Callable[[Request], Awaitable[VerifiedKey]]:
    """A dependency that answers the verified key, or refuses with 401/403/429/503.

    Args:
        scopes: scopes the key must hold for this route.
        verifier: the ``AsyncVerifier`` to ask; default ``app.state.keyplane_verifier``.
        header: where the key is read; ``Authorization`` takes ``Bearer <key>``.
    """
    needed = tuple(scopes)

    async def verified_key(request: Request) -> VerifiedKey:
        asked = verifier or _app_verifier(request)
        outcome = await admit(asked, request.headers.get(header), header=header, scopes=needed)
        if isinstance(outcome, Refusal):
            raise HTTPException(outcome.status, detail=outcome.detail, headers=outcome.headers)
        return outcome

    return verified_key


def _app_verifier(request: Request) -> AsyncVerifier:
    verifier = getattr(request.app.state, STATE_VERIFIER, None)
    if not isinstance(verifier, AsyncVerifier):
        raise RuntimeError(
            "require_key needs a verifier: pass verifier=, or set "
            f"app.state.{STATE_VERIFIER} = AsyncVerifier() in the app's lifespan"
        )
    return verifier
