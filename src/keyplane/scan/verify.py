"""Ask a keyplane server whether found keys are live, and revoke them when asked to."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

from keyplane.keys.format import KeyKind, parse_key
from keyplane.scan.finding import Finding
from keyplane.scan.rules import KEYPLANE_RULE

VERIFY_PATH = "/v1/keys/verify"
# Ids come from the server's answer; refuse anything that could reshape the request path.
_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class Requester(Protocol):
    """What we need of ``AdminClient``: one JSON request, errors raised as ``CliError``."""

    def request(self, method: str, path: str, *, json: Any = None) -> Any: ...


def verify_key(client: Requester, secret: str) -> dict[str, Any]:
    """The server's verdict on one key; ``{"valid": false, ...}`` when the answer is odd."""
    answer = client.request("POST", VERIFY_PATH, json={"key": secret})
    return answer if isinstance(answer, dict) else {"valid": False, "code": "UNKNOWN"}


def verify_findings(client: Requester, findings: Sequence[Finding], *, brand: str = "kp") -> None:
    """Fill ``live``, ``status`` and ids on every keyplane finding, one request per key.

    Only keys of this deployment's ``brand`` are sent: another deployment's key is not this
    server's to judge, and sending it would hand it to a server that never issued it.
    """
    verdicts: dict[str, dict[str, Any]] = {}
    for finding in findings:
        if finding.rule_id != KEYPLANE_RULE or not finding.secret.startswith(f"{brand}_"):
            continue
        if finding.secret not in verdicts:
            verdicts[finding.secret] = verify_key(client, finding.secret)
        verdict = verdicts[finding.secret]
        finding.live = verdict.get("valid") is True
        finding.status = str(verdict.get("code", "UNKNOWN"))
        finding.key_id = _clean_id(verdict.get("key_id"))
        finding.project_id = _clean_id(verdict.get("project_id"))


def revoke_live(client: Requester, findings: Sequence[Finding], *, brand: str) -> int:
    """Revoke every live key among ``findings``; return how many were revoked."""
    done: set[str] = set()
    for finding in findings:
        if not finding.live or finding.key_id is None:
            continue
        if finding.key_id not in done:
            path = _revoke_path(finding, brand)
            if path is None:
                continue
            client.request("DELETE", path)
            done.add(finding.key_id)
        finding.revoked = True
        finding.live = False
        finding.status = "REVOKED"
    return len(done)


def _revoke_path(finding: Finding, brand: str) -> str | None:
    """The admin API path that revokes the key of ``finding``."""
    kind = parse_key(finding.secret, brand=brand).kind
    if kind is KeyKind.ADMIN:
        return f"/v1/organization/admin_api_keys/{finding.key_id}"
    if finding.project_id is None:
        return None
    return f"/v1/organization/projects/{finding.project_id}/api_keys/{finding.key_id}"


def live_first(findings: Sequence[Finding]) -> list[Finding]:
    """Live keys (and keys that were live until ``--revoke``) first, each group in order."""
    return sorted(findings, key=lambda finding: not (finding.live or finding.revoked))


def _clean_id(value: object) -> str | None:
    return value if isinstance(value, str) and _ID.match(value) else None
