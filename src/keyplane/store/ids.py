"""Public identifiers: a type prefix and random base62, like OpenAI's ``proj_...``."""

from __future__ import annotations

import secrets

from keyplane.keys.format import BASE62

ID_LENGTH = 24


def new_id(prefix: str) -> str:
    return prefix + "_" + "".join(secrets.choice(BASE62) for _ in range(ID_LENGTH))
