"""A baseline: findings a team has accepted, stored by fingerprint and never by secret."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from keyplane.scan.errors import ScanError
from keyplane.scan.finding import Finding

VERSION = 1


def load_baseline(path: Path) -> frozenset[str]:
    """The fingerprints accepted in the baseline file at ``path``."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return frozenset(str(entry["fingerprint"]) for entry in document["findings"])
    except FileNotFoundError:
        message = f"baseline {path} does not exist; create it with --update-baseline"
        raise ScanError(message) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        message = f"baseline {path} is not a keyplane baseline ({type(exc).__name__})"
        raise ScanError(message) from None


def write_baseline(path: Path, findings: Iterable[Finding]) -> int:
    """Write ``findings`` as the new baseline; return how many distinct ones it holds."""
    entries: dict[str, dict[str, object]] = {}
    for finding in findings:
        entries.setdefault(
            finding.fingerprint,
            {
                "fingerprint": finding.fingerprint,
                "rule": finding.rule_id,
                "file": finding.file,
                "line": finding.line,
                "redacted": finding.redacted,
            },
        )
    document = {"version": VERSION, "tool": "keyplane scan", "findings": list(entries.values())}
    try:
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ScanError(f"cannot write baseline {path}: {exc.strerror}") from None
    return len(entries)


def without_baseline(findings: list[Finding], accepted: frozenset[str]) -> list[Finding]:
    """The findings that the baseline does not accept."""
    return [finding for finding in findings if finding.fingerprint not in accepted]
