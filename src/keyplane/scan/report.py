"""Render findings as a table, JSON or SARIF 2.1.0; only redacted forms ever leave here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from keyplane import __version__
from keyplane.scan.finding import Finding, Skipped
from keyplane.scan.patterns import Rule

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/keyplane/keyplane"
FINGERPRINT_KEY = "keyplaneSecretHash/v1"
SKIPPED_DESCRIPTOR = "skipped-file"


def finding_dict(finding: Finding) -> dict[str, Any]:
    """The JSON form of one finding."""
    data: dict[str, Any] = {
        "file": finding.file,
        "line": finding.line,
        "rule": finding.rule_id,
        "secret": finding.redacted,
        "fingerprint": finding.fingerprint,
    }
    if finding.commit is not None:
        data["commit"] = finding.commit
    if finding.live is not None or finding.status is not None:
        data.update(live=finding.live, status=finding.status, revoked=finding.revoked)
    return data


def skipped_dict(skip: Skipped) -> dict[str, Any]:
    """The JSON form of one skipped file."""
    data: dict[str, Any] = {"file": skip.file, "reason": skip.reason}
    if skip.size is not None:
        data["bytes"] = skip.size
    if skip.commit is not None:
        data["commit"] = skip.commit
    return data


def render_json(findings: Sequence[Finding], skipped: Sequence[Skipped] = ()) -> str:
    """``{"count": n, "findings": [...], "complete": bool, "skipped": [...]}``."""
    items = [finding_dict(finding) for finding in findings]
    document = {
        "count": len(items),
        "findings": items,
        "complete": not skipped,
        "skipped": [skipped_dict(skip) for skip in skipped],
    }
    return json.dumps(document, indent=2)


def render_table(findings: Sequence[Finding]) -> str:
    """An aligned plain-text table, one finding a row."""
    show_commit = any(f.commit for f in findings)
    show_live = any(f.status is not None for f in findings)
    header = ["LOCATION", "RULE", "SECRET"]
    header += ["COMMIT"] if show_commit else []
    header += ["LIVE", "STATUS"] if show_live else []
    rows = [header]
    for f in findings:
        row = [f"{f.file}:{f.line}", f.rule_id, f.redacted]
        row += [(f.commit or "")[:12]] if show_commit else []
        row += [_live_word(f), _status_word(f)] if show_live else []
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _live_word(finding: Finding) -> str:
    return {True: "yes", False: "no", None: "?"}[finding.live]


def _status_word(finding: Finding) -> str:
    return "REVOKED now" if finding.revoked else finding.status or ""


def render_sarif(
    findings: Sequence[Finding], rules: Sequence[Rule], skipped: Sequence[Skipped] = ()
) -> str:
    """A SARIF 2.1.0 log with one run, the rule catalogue and one result per finding.

    Skipped files are warnings among the invocation's tool execution notifications, so a
    viewer shows what the scan did not cover.
    """
    index = {rule.id: number for number, rule in enumerate(rules)}
    run = {
        "tool": {
            "driver": {
                "name": "keyplane",
                "version": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [_sarif_rule(rule) for rule in rules],
            }
        },
        "invocations": [
            {
                "executionSuccessful": True,
                "toolExecutionNotifications": [_sarif_skip(skip) for skip in skipped],
            }
        ],
        "results": [_sarif_result(f, index[f.rule_id]) for f in findings],
    }
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2)


def _sarif_rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": "".join(part.title() for part in rule.id.split("-")),
        "shortDescription": {"text": f"{rule.name} in source"},
        "fullDescription": {"text": f"A {rule.name} was committed or is about to be."},
        "help": {"text": "Revoke it, delete it from the code, read it from the environment."},
        "defaultConfiguration": {"level": "error"},
    }


def _uri(file: str) -> str:
    """A URI reference for ``file``: spaces, ``%`` and ``#`` in names are escaped."""
    path = PurePath(file)
    return path.as_uri() if path.is_absolute() else quote(path.as_posix())


def _sarif_result(finding: Finding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": "error",
        "message": {"text": f"{finding.rule_id} {finding.redacted} found"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(finding.file)},
                    "region": {"startLine": finding.line},
                }
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
    }
    if finding.commit is not None:
        result["properties"] = {"commit": finding.commit}
    return result


def _sarif_skip(skip: Skipped) -> dict[str, Any]:
    size = f" ({skip.size} bytes)" if skip.size is not None else ""
    where = f" at commit {skip.commit}" if skip.commit is not None else ""
    notification: dict[str, Any] = {
        "level": "warning",
        "descriptor": {"id": SKIPPED_DESCRIPTOR},
        "message": {"text": f"not scanned, {skip.reason}{size}{where}: {skip.file}"},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(skip.file)}}}],
    }
    return notification
