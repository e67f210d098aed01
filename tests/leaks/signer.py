"""Stand in for GitHub: a P-256 key pair, its public keys file, and signed reports."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

REPORT_PATH = "/v1/leaks/github"


@dataclass
class GithubSigner:
    key_identifier: str
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def public_pem(self) -> str:
        return (
            self.private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )

    def headers(self, body: bytes) -> dict[str, str]:
        signature = self.private_key.sign(body, ec.ECDSA(hashes.SHA256()))
        return {
            "Github-Public-Key-Identifier": self.key_identifier,
            "Github-Public-Key-Signature": base64.b64encode(signature).decode("ascii"),
            "Content-Type": "application/json",
        }

    async def report(self, client: httpx.AsyncClient, *tokens: str, **match: Any) -> httpx.Response:
        """POST a signed report of ``tokens``, as GitHub would."""
        found = {"type": "keyplane_api_key", "url": "https://github.com/o/r/blob/1/a.py"}
        body = json.dumps([{**found, "source": "content", **match, "token": t} for t in tokens])
        return await client.post(REPORT_PATH, content=body, headers=self.headers(body.encode()))


def write_keys_file(path: Path, *signers: GithubSigner) -> Path:
    """GitHub's published format: ``{"public_keys": [{key_identifier, key, is_current}]}``."""
    keys = [
        {"key_identifier": s.key_identifier, "key": s.public_pem(), "is_current": i == 0}
        for i, s in enumerate(signers)
    ]
    path.write_text(json.dumps({"public_keys": keys}))
    return path
