"""GitHub's signing keys for secret scanning reports, and checking a report's signature.

GitHub signs the raw body with ECDSA P-256 / SHA-256 and names its key in
``Github-Public-Key-Identifier``; the base64 DER signature is in ``Github-Public-Key-Signature``.
Its public keys are published as ``{"public_keys": [{"key_identifier", "key", "is_current"}]}``;
operators save that file and point ``KEYPLANE_GITHUB_SCANNING_KEYS`` at it.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

# cryptography is imported where it is used: a server without leak reports configured
# never loads it (it is ~8 MB of resident memory).
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

from keyplane.errors import AuthenticationError, UnavailableError

logger = logging.getLogger(__name__)

KEY_ID_HEADER = "github-public-key-identifier"
SIGNATURE_HEADER = "github-public-key-signature"
SETTING = "KEYPLANE_GITHUB_SCANNING_KEYS"


class ScanningKeysError(ValueError):
    """The keys file cannot be used; the message says why."""


@dataclass(frozen=True)
class TrustedKeys:
    """GitHub's public keys by identifier, or why there are none to trust."""

    keys: Mapping[str, ec.EllipticCurvePublicKey] = field(default_factory=dict)
    problem: str | None = None

    @classmethod
    def load(cls, path: Path | None) -> TrustedKeys:
        """Read the file once at startup; a missing or bad file becomes a ``problem``."""
        if path is None:
            return cls(
                problem=f"Leak reports are not configured: set {SETTING} to the path "
                "of GitHub's secret scanning public keys file."
            )
        try:
            keys = parse_keys_file(path.read_bytes())
        except (OSError, ScanningKeysError) as exc:
            problem = f"Leak reports are unavailable: {SETTING}={path} cannot be used ({exc})."
            logger.error("%s", problem)
            return cls(problem=problem)
        logger.info("trusting %d GitHub secret scanning keys from %s", len(keys), path)
        return cls(keys=keys)

    def verify(self, body: bytes, *, key_identifier: str | None, signature: str | None) -> None:
        """Raise unless ``signature`` signs ``body`` with the key named ``key_identifier``."""
        if self.problem is not None:
            raise UnavailableError(self.problem, code="leak_reports_not_configured")
        if not key_identifier or not signature:
            raise _unsigned(
                "The report is not signed: Github-Public-Key-Identifier and "
                "Github-Public-Key-Signature are required."
            )
        key = self.keys.get(key_identifier.strip())
        if key is None:
            raise _unsigned("The report is signed with an unknown GitHub key identifier.")
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        try:
            der = base64.b64decode(signature.strip(), validate=True)
            key.verify(der, body, ec.ECDSA(hashes.SHA256()))
        except (binascii.Error, ValueError, InvalidSignature):
            raise _unsigned("The report's signature does not match its body.") from None


def parse_keys_file(content: bytes) -> dict[str, ec.EllipticCurvePublicKey]:
    """P-256 public keys by identifier, from GitHub's published JSON format."""
    try:
        document: Any = json.loads(content)
    except ValueError:
        raise ScanningKeysError("not valid JSON") from None
    entries = document.get("public_keys") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ScanningKeysError('expected {"public_keys": [...]} with at least one key')
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("key_identifier"), str):
            raise ScanningKeysError(f"key {number} has no key_identifier")
        keys[entry["key_identifier"]] = _public_key(entry.get("key"), number)
    return keys


def _public_key(pem: object, number: int) -> ec.EllipticCurvePublicKey:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    if not isinstance(pem, str):
        raise ScanningKeysError(f"key {number} has no PEM 'key'")
    try:
        key = load_pem_public_key(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise ScanningKeysError(f"key {number} is not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ScanningKeysError(f"key {number} is not an ECDSA P-256 key")
    return key


def _unsigned(message: str) -> AuthenticationError:
    return AuthenticationError(message, code="invalid_signature")
