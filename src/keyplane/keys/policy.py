"""Validation of key fields that every surface shares. Pure code."""

from __future__ import annotations

import ipaddress
from datetime import datetime

from keyplane.errors import ValidationFailedError
from keyplane.keys.permissions import PermissionMode, Permissions, malformed_scopes

MAX_NAME = 200
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
MAX_LIST = 100


def clean_name(name: str, *, param: str = "name") -> str:
    name = name.strip()
    if not name:
        raise ValidationFailedError("name must not be empty.", param=param)
    if len(name) > MAX_NAME:
        raise ValidationFailedError(f"name must be at most {MAX_NAME} characters.", param=param)
    return name


def clean_permissions(mode: str, scopes: list[str]) -> Permissions:
    try:
        parsed = PermissionMode(mode)
    except ValueError:
        raise ValidationFailedError(
            "permissions.mode must be one of all, read_only, restricted.", param="permissions.mode"
        ) from None
    malformed = malformed_scopes(scopes)
    if malformed:
        raise ValidationFailedError(
            f"Scope {malformed[0][:80]!r} is not a scope name: use lowercase words joined by "
            "dots, e.g. chat.completions.write or notes.read.",
            param="permissions.scopes",
        )
    if parsed is PermissionMode.RESTRICTED and not scopes:
        raise ValidationFailedError(
            "permissions.scopes must name at least one scope when mode is restricted.",
            param="permissions.scopes",
        )
    kept = tuple(dict.fromkeys(scopes)) if parsed is PermissionMode.RESTRICTED else ()
    return Permissions(mode=parsed, scopes=kept)


def clean_models(models: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(m.strip() for m in models))
    if len(cleaned) > MAX_LIST or any(not m or len(m) > MAX_NAME for m in cleaned):
        raise ValidationFailedError(
            f"allowed_models takes at most {MAX_LIST} non-empty model names.",
            param="allowed_models",
        )
    return cleaned


def clean_ips(entries: list[str]) -> list[str]:
    """Normalise addresses and CIDR blocks (``10.0.0.0/8``, ``2001:db8::/32``, ``1.2.3.4``)."""
    cleaned = []
    for entry in entries[: MAX_LIST + 1]:
        try:
            cleaned.append(str(ipaddress.ip_network(entry.strip(), strict=False)))
        except ValueError:
            raise ValidationFailedError(
                f"{entry!r} is not an IP address or CIDR block.", param="allowed_ips"
            ) from None
    if len(cleaned) > MAX_LIST:
        raise ValidationFailedError(
            f"allowed_ips takes at most {MAX_LIST} entries.", param="allowed_ips"
        )
    return list(dict.fromkeys(cleaned))


def clean_metadata(metadata: dict[str, str]) -> dict[str, str]:
    if len(metadata) > MAX_METADATA_PAIRS:
        raise ValidationFailedError(
            f"metadata takes at most {MAX_METADATA_PAIRS} pairs.", param="metadata"
        )
    for key, value in metadata.items():
        if not key or len(key) > MAX_METADATA_KEY:
            raise ValidationFailedError(
                f"metadata keys must be 1-{MAX_METADATA_KEY} characters.", param="metadata"
            )
        if len(value) > MAX_METADATA_VALUE:
            raise ValidationFailedError(
                f"metadata values must be at most {MAX_METADATA_VALUE} characters.",
                param="metadata",
            )
    return dict(metadata)


def clean_expiry(expires_at: datetime | None, *, now: datetime) -> datetime | None:
    if expires_at is not None and expires_at <= now:
        raise ValidationFailedError("expires_at must be in the future.", param="expires_at")
    return expires_at
