"""One-time messages that carry a secret from a POST to the page that shows it once.

The secret travels the way it was always going to: to the browser. The POST answers with a
redirect and a cookie holding the payload encrypted (AES-GCM, a key derived from the server
secret), bound to the session and to the flash id in the redirect's URL, and good for five
minutes; the page that shows it decrypts it and deletes the cookie. Nothing is kept in the
store (a key's plaintext must not reach the database) nor in one process's memory, so the
page works whichever worker or instance answers it: no sticky sessions.

The URL carries only the random flash id; the cookie is ``HttpOnly``, ``SameSite=Strict``,
``Secure`` over HTTPS and scoped to the path of the page that reads it.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections.abc import Callable
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.requests import Request
from starlette.responses import Response

TTL_SECONDS = 300
_PREFIX = "kp_flash_"
_NONCE = 12
# A cookie holds at most about 4 KB; a payload is a key and a few words.
_MAX_COOKIE = 3800


class FlashStore:
    """Session-bound, read-once payloads, carried encrypted by the browser."""

    def __init__(
        self,
        server_secret: bytes,
        *,
        ttl: int = TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"keyplane dashboard flash v1"
        ).derive(server_secret)
        self._aead = AESGCM(key)
        self.ttl = ttl
        self._clock = clock

    def put(
        self,
        response: Response,
        session_id: str,
        payload: dict[str, Any],
        *,
        path: str,
        secure: bool,
    ) -> str:
        """Set the cookie that carries ``payload`` to ``path``; the id to put in its URL."""
        flash_id = secrets.token_urlsafe(16)
        sealed = {"until": int(self._clock()) + self.ttl, "payload": payload}
        nonce = secrets.token_bytes(_NONCE)
        blob = nonce + self._aead.encrypt(nonce, orjson.dumps(sealed), _bound(session_id, flash_id))
        value = base64.urlsafe_b64encode(blob).decode()
        if len(value) > _MAX_COOKIE:
            raise ValueError("a flash payload must fit in a cookie")
        response.set_cookie(
            _PREFIX + flash_id,
            value,
            max_age=self.ttl,
            httponly=True,
            samesite="strict",
            secure=secure,
            path=path,
        )
        return flash_id

    def pop(self, request: Request, session_id: str, flash_id: str) -> dict[str, Any] | None:
        """The payload; None when it is gone, expired, or belongs to another session.

        The page that shows it then calls ``forget`` on its response, so a reload shows nothing.
        """
        value = request.cookies.get(_PREFIX + flash_id) if flash_id else None
        if value is None or len(value) > _MAX_COOKIE:
            return None
        try:
            blob = base64.urlsafe_b64decode(value.encode("ascii"))
            plain = self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], _bound(session_id, flash_id))
        except (InvalidTag, ValueError, binascii.Error, UnicodeError):
            return None
        sealed = orjson.loads(plain)
        if sealed["until"] < self._clock():
            return None
        payload: dict[str, Any] = sealed["payload"]
        return payload

    @staticmethod
    def forget(response: Response, flash_id: str, *, path: str) -> Response:
        """Delete the cookie of ``flash_id`` with ``response``; returns it."""
        if flash_id:
            response.delete_cookie(_PREFIX + flash_id, path=path)
        return response


def _bound(session_id: str, flash_id: str) -> bytes:
    """What a cookie is bound to: another session, or another flash id, cannot open it."""
    return f"{session_id}\x00{flash_id}".encode()
