"""The key format: ``<brand>_<kind>_<random><checksum>``.

``random`` is 32 base62 characters; ``checksum`` is the CRC32 (zlib) of the UTF-8 bytes of
everything before it, in base62 (``0-9A-Za-z``, most significant digit first) left-padded
with ``0`` to 6 characters. A checksum lets us refuse typos and look-alikes offline, before
any lookup, and lets scanners tell real keys from random strings.
"""

from __future__ import annotations

import secrets
import zlib
from dataclasses import dataclass

from keyplane.errors import MalformedKeyError
from keyplane.values.kinds import KeyKind as KeyKind  # re-exported: keys name their kind

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH = 32
CHECKSUM_LENGTH = 6
_BASE62_SET = frozenset(BASE62)


KIND_PREFIXES = tuple(kind.value for kind in KeyKind)


@dataclass(frozen=True, slots=True)
class ParsedKey:
    """A key whose shape and checksum are valid. It says nothing about the store."""

    brand: str
    kind: KeyKind
    random: str
    checksum: str

    @property
    def value(self) -> str:
        return f"{self.brand}_{self.kind.value}_{self.random}{self.checksum}"


def encode_base62(number: int, width: int) -> str:
    """Base62 digits of ``number``, most significant first, left-padded to ``width``."""
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(BASE62[remainder])
    return "".join(reversed(digits)).rjust(width, "0")


def checksum(body: str) -> str:
    """The 6-character checksum of ``body`` (``<brand>_<kind>_<random>``)."""
    return encode_base62(zlib.crc32(body.encode("utf-8")), CHECKSUM_LENGTH)


def random_part() -> str:
    """32 base62 characters from the OS's CSPRNG (about 190 bits)."""
    return "".join(secrets.choice(BASE62) for _ in range(RANDOM_LENGTH))


def build_key(*, brand: str, kind: KeyKind, random: str) -> str:
    """Assemble a key from its parts, adding the checksum."""
    body = f"{brand}_{kind.value}_{random}"
    return body + checksum(body)


def generate_key(kind: KeyKind, *, brand: str = "kp") -> str:
    """A new random key of ``kind``. The caller must show it once and store only its hash."""
    return build_key(brand=brand, kind=kind, random=random_part())


def parse_key(value: str, *, brand: str = "kp") -> ParsedKey:
    """Check the shape and checksum of ``value``.

    Raises:
        MalformedKeyError: the value is not a key of this deployment, or its checksum fails.
            The message never repeats the value.
    """
    head = f"{brand}_"
    if not value.startswith(head):
        raise MalformedKeyError(f"API key must start with '{head}'.")
    kind_tag, sep, tail = value[len(head) :].partition("_")
    if not sep:
        raise MalformedKeyError("API key is malformed.")
    try:
        kind = KeyKind(kind_tag)
    except ValueError:
        raise MalformedKeyError("API key has an unknown kind.") from None
    if len(tail) != RANDOM_LENGTH + CHECKSUM_LENGTH or not _BASE62_SET.issuperset(tail):
        raise MalformedKeyError("API key is malformed.")
    random, given = tail[:RANDOM_LENGTH], tail[RANDOM_LENGTH:]
    if not secrets.compare_digest(checksum(value[:-CHECKSUM_LENGTH]), given):
        raise MalformedKeyError("API key checksum does not match; check for a typo.")
    return ParsedKey(brand=brand, kind=kind, random=random, checksum=given)


def is_valid_key(value: str, *, brand: str = "kp") -> bool:
    """True when ``value`` has a key's shape and a correct checksum."""
    try:
        parse_key(value, brand=brand)
    except MalformedKeyError:
        return False
    return True
