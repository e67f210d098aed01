"""What a key may do: a mode and, for ``restricted``, a list of scopes. Pure code."""

from __future__ import annotations

import re
from dataclasses import dataclass

from keyplane.values.kinds import PermissionMode as PermissionMode  # re-exported

SCOPES: tuple[str, ...] = (
    "models.read",
    "chat.completions.write",
    "completions.write",
    "embeddings.write",
    "responses.write",
    "messages.write",  # Anthropic's Messages API, /v1/messages and its count_tokens
    "usage.read",
)


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
        """The scopes this key holds: the gateway's, and a restricted key's own ones too."""
        known = tuple(scope for scope in SCOPES if self.allows(scope))
        return known + tuple(scope for scope in self.scopes if scope not in SCOPES)


# Teams protecting their own API (through /v1/keys/verify or the SDK) name their own scopes,
# e.g. "notes.write"; a name ending in ".read" is held by read-only keys too.
SCOPE_NAME = re.compile(r"^[a-z][a-z0-9_-]*(?:[.:][a-z0-9_-]+)*$")
MAX_SCOPE = 64


def malformed_scopes(scopes: list[str] | tuple[str, ...]) -> list[str]:
    return [s for s in scopes if len(s) > MAX_SCOPE or not SCOPE_NAME.match(s)]


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
