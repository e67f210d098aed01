"""Public identifiers: a type prefix and random base62, like OpenAI's ``proj_...``."""

from __future__ import annotations

import secrets
import string

ID_LENGTH = 24
# The same alphabet as keys (``keys.format.BASE62``); the store does not depend on key format.
_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase


def new_id(prefix: str) -> str:
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(ID_LENGTH))
