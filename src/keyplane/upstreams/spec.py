"""One upstream provider as the operator configured it."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import SecretStr


class Provider(enum.Enum):
    """How keyplane talks to an upstream: its URL shape, auth header and native API."""

    OPENAI = "openai"
    AZURE = "azure"
    ANTHROPIC = "anthropic"
    OPENAI_COMPATIBLE = "openai_compatible"


DEFAULT_BASE_URLS = {
    Provider.OPENAI: "https://api.openai.com/v1",
    Provider.ANTHROPIC: "https://api.anthropic.com",
}
ANTHROPIC_VERSION = "2023-06-01"
LITERAL = "literal"  # the key_source of a key written into the file itself


@dataclass(frozen=True, slots=True)
class UpstreamSpec:
    """An upstream: where it is, how to authenticate, which models it serves.

    ``api_key`` is ``None`` when the environment variable the file names is unset;
    ``key_source`` says where the key comes from (``${NAME}``, ``literal`` or a setting's
    name) so that logs can name it without ever showing it.
    """

    name: str
    provider: Provider
    base_url: str
    api_key: SecretStr | None
    key_source: str
    models: tuple[str, ...]
    fallbacks: tuple[str, ...] = ()
    connect_timeout: float = 10.0
    read_timeout: float = 600.0
    headers: Mapping[str, str] = field(default_factory=dict)
    # Azure: the deployment that serves each model (default: the model's own name).
    deployments: Mapping[str, str] = field(default_factory=dict)
    api_version: str = ""
    anthropic_version: str = ANTHROPIC_VERSION

    @property
    def literal_key(self) -> bool:
        return self.key_source == LITERAL

    def describe(self) -> str:
        """One line for logs: everything but the key, which shows only where it comes from."""
        state = "set" if self.api_key is not None else "MISSING"
        return (
            f"{self.name} ({self.provider.value}) {self.base_url} models={list(self.models)}"
            f" key={self.key_source} ({state})"
            + (f" fallbacks={list(self.fallbacks)}" if self.fallbacks else "")
        )

    def deployment(self, model: str) -> str:
        return self.deployments.get(model, model)
