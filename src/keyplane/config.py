"""Settings: the only module that reads the environment.

Every setting comes from a ``KEYPLANE_*`` environment variable or a ``.env`` file in the
working directory; a real environment variable wins over ``.env``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_BRAND = re.compile(r"^[a-z][a-z0-9]{0,15}$")


class Settings(BaseSettings):
    """Server-side settings. Secrets are ``SecretStr`` so they never print by accident."""

    model_config = SettingsConfigDict(
        env_prefix="KEYPLANE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_ignore_empty=True,
    )

    data_dir: Path = Path(".keyplane")
    database_url: str | None = None
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    key_brand: str = "kp"
    secret_key: SecretStr | None = None
    upstream_base_url: str = "https://api.openai.com/v1"
    upstream_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("KEYPLANE_UPSTREAM_API_KEY", "OPENAI_API_KEY"),
    )
    log_level: str = "info"
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60)

    @field_validator("key_brand")
    @classmethod
    def _brand_is_simple(cls, value: str) -> str:
        if not _BRAND.match(value):
            raise ValueError("must be 1-16 lowercase letters or digits, starting with a letter")
        return value

    @property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy async URL; SQLite in the data dir unless one is given."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'keyplane.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


class ClientSettings(BaseSettings):
    """What the CLI needs to reach a server."""

    model_config = SettingsConfigDict(
        env_prefix="KEYPLANE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_ignore_empty=True,
    )

    url: str = "http://127.0.0.1:8080"
    admin_key: SecretStr | None = None
    key_brand: str = "kp"
    timeout_seconds: float = Field(default=30.0, gt=0)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and ``.env``, with explicit overrides on top."""
    return Settings(**overrides)
