"""What a key may do: a mode and, for ``restricted``, a list of scopes. Pure code."""

from __future__ import annotations

import enum
from dataclasses import dataclass

SCOPES: tuple[str, ...] = (
    "models.read",
    "chat.completions.write",
    "completions.write",
    "embeddings.write",
    "responses.write",
    "usage.read",
)


class PermissionMode(enum.StrEnum):
    ALL = "all"
    READ_ONLY = "read_only"
    RESTRICTED = "restricted"


@dataclass(frozen=True, slots=True)
class Permissions:
    mode: PermissionMode = PermissionMode.ALL
    scopes: tuple[str, ...] = ()

    def allows(self, scope: str) -> bool:
        if self.mode is PermissionMode.ALL:
            return True
        if self.mode is PermissionMode.READ_ONLY:
            return scope.endswith(".read")
        return scope in self.scopes

    def effective_scopes(self) -> tuple[str, ...]:
        """The known scopes this key holds, for display and verification answers."""
        return tuple(scope for scope in SCOPES if self.allows(scope))


def unknown_scopes(scopes: list[str] | tuple[str, ...]) -> list[str]:
    return [scope for scope in scopes if scope not in SCOPES]


def model_allowed(model: str, allowed_models: list[str] | tuple[str, ...]) -> bool:
    """An empty allow-list allows every model; entries ending in ``*`` match a prefix."""
    if not allowed_models:
        return True
    for pattern in allowed_models:
        if pattern.endswith("*"):
            if model.startswith(pattern[:-1]):
                return True
        elif model == pattern:
            return True
    return False
