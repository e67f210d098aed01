"""Key material: format, checksum, hashing and redaction. Pure code, no I/O."""

from keyplane.keys.format import (
    KIND_PREFIXES,
    KeyKind,
    ParsedKey,
    checksum,
    generate_key,
    parse_key,
)
from keyplane.keys.secrets import constant_time_equal, hash_key, redact

__all__ = [
    "KIND_PREFIXES",
    "KeyKind",
    "ParsedKey",
    "checksum",
    "constant_time_equal",
    "generate_key",
    "hash_key",
    "parse_key",
    "redact",
]
