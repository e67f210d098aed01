"""Settings: the only module that reads the environment.

Every setting comes from a ``KEYPLANE_*`` environment variable or a ``.env`` file in the
working directory; a real environment variable wins over ``.env``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from dotenv import dotenv_values
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_BRAND = re.compile(r"^[a-z][a-z0-9]{0,15}$")
_MIB = 1024 * 1024
_USD = r"\s*\d{1,6}(?:\.\d{1,6})?\s*"
_DEFAULT_PRICE = re.compile(rf"^{_USD}/{_USD}(?:/{_USD})?$")


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
    # Where this deployment's limits live in Redis, recount channel included: two deployments
    # sharing one Redis need prefixes of their own, or they share limits and recount fences.
    redis_prefix: str = Field(
        default="kp:lim", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_:.-]+$"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # Processes ``serve`` runs, each on the same socket; more than one needs KEYPLANE_REDIS_URL.
    workers: int = Field(default=1, ge=1, le=64)
    key_brand: str = "kp"
    secret_key: SecretStr | None = None
    upstream_base_url: str = "https://api.openai.com/v1"
    upstream_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("KEYPLANE_UPSTREAM_API_KEY", "OPENAI_API_KEY"),
    )
    upstream_connect_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    upstream_read_timeout_seconds: float = Field(default=600.0, gt=0, le=3600)
    # A TOML list of upstreams (docs/upstreams.md); without it the settings above define one.
    upstreams_file: Path | None = None
    # CIDRs of proxies whose X-Forwarded-For is believed, comma-separated; empty: none.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    prices_file: Path | None = None
    # The price of models the prices table does not list, USD per 1M tokens, as
    # INPUT/OUTPUT[/CACHED_INPUT] ("2.50/10"); unset: such models are refused under a budget.
    default_price: str | None = None
    usage_flush_seconds: float = Field(default=2.0, gt=0, le=300)
    # Retention: minute usage rows are rolled up into hours after this many days, and hours
    # into days; day rows and audit events are kept for ever unless a number of days is set.
    usage_minute_retention_days: float = Field(default=2, gt=0, le=3650)
    usage_hour_retention_days: float = Field(default=14, gt=0, le=36500)
    usage_day_retention_days: float | None = Field(default=None, gt=0, le=365000)
    audit_retention_days: float | None = Field(default=None, gt=0, le=365000)
    housekeeping_interval_seconds: float = Field(default=60, gt=0, le=86400)
    # OpenTelemetry traces of gateway calls (the "otel" extra), exported over OTLP/HTTP as the
    # standard OTEL_EXPORTER_OTLP_* variables say.
    otel_traces: bool = False
    # Set by ``serve --demo``: the gateway forwards to keyplane's stand-in upstream, which
    # every dashboard page then says in a banner.
    demo: bool = False
    # Every metered call is appended to a journal in the data dir before its answer ends;
    # this is how often it is fsynced (what a machine crash, not a killed process, may lose).
    usage_journal_fsync_seconds: float = Field(default=1.0, gt=0, le=1.0)
    # Off only where the data dir cannot be written: a killed process then loses the usage
    # of its last ``usage_flush_seconds``.
    usage_journal: bool = True
    key_cache_ttl_seconds: float = Field(default=1.0, ge=0, le=1.0)
    # When Redis (the limits store) is unreachable, budgets always refuse calls (503); rate
    # limits do too unless this is "fail_open".
    rate_limit_failure: Literal["fail_open", "fail_closed"] = "fail_closed"
    # Output tokens reserved against limits and budgets when a call names no maximum.
    limits_default_max_output_tokens: int = Field(default=4096, ge=1, le=1_000_000)
    log_level: str = "info"
    # "json": one JSON object a line, for log collectors; each gateway call's fields apart.
    log_format: Literal["text", "json"] = "text"
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    # GitHub's secret scanning public keys, saved from api.github.com/meta/public_keys/...
    github_scanning_keys: Path | None = None
    webhook_max_attempts: int = Field(default=8, ge=1, le=20)
    webhook_backoff_seconds: float = Field(default=1.0, gt=0, le=3600)
    webhook_backoff_max_seconds: float = Field(default=300.0, gt=0, le=86400)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # The dashboard: how long a sign-in lasts, and how password guessing is slowed down.
    session_ttl_seconds: int = Field(default=12 * 3600, ge=300, le=30 * 86400)
    invite_ttl_seconds: int = Field(default=7 * 86400, ge=600, le=90 * 86400)
    login_max_failures: int = Field(default=5, ge=1, le=100)
    login_lockout_seconds: int = Field(default=15 * 60, ge=1, le=86400)
    login_failure_delay_seconds: float = Field(default=0.5, ge=0, le=10)
    # Argon2id cost of a password hash (RFC 9106's second recommendation by default).
    argon2_time_cost: int = Field(default=3, ge=1, le=20)
    # At least 8 KiB for each of argon2-cffi's 4 lanes: less fails at the first hash.
    argon2_memory_kib: int = Field(default=65536, ge=32, le=4 * 1024 * 1024)

    # Request bodies, refused with 413 past these sizes before they are read. The gateway's is
    # near OpenAI's own (images and files inline as base64); the rest take small JSON or forms.
    max_body_bytes_gateway: int = Field(default=32 * _MIB, ge=1024, le=1024 * _MIB)
    max_body_bytes_admin: int = Field(default=1 * _MIB, ge=1024, le=1024 * _MIB)
    max_body_bytes_verify: int = Field(default=64 * 1024, ge=1024, le=1024 * _MIB)
    max_body_bytes_leaks: int = Field(default=1 * _MIB, ge=1024, le=1024 * _MIB)
    max_body_bytes_dashboard: int = Field(default=256 * 1024, ge=1024, le=1024 * _MIB)
    # A whole (not streamed) answer from upstream longer than this is not relayed (502).
    upstream_max_answer_bytes: int = Field(default=128 * _MIB, ge=64 * 1024, le=4096 * _MIB)
    # JSON request documents: nesting and how many values in all, checked after parsing.
    json_max_depth: int = Field(default=64, ge=4, le=512)
    json_max_values: int = Field(default=1_000_000, ge=1000, le=100_000_000)

    # Connections: the request head must arrive within this; idle keep-alive ones close after
    # the next; past the cap new requests get 503 (the file-descriptor limit must be higher).
    http_head_timeout_seconds: float = Field(default=5.0, gt=0, le=300)
    http_keepalive_timeout_seconds: float = Field(default=5.0, gt=0, le=3600)
    # A request body that sends nothing for this long gets 408 and its connection closed.
    http_body_idle_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    http_max_connections: int = Field(default=1000, ge=1, le=1_000_000)
    # TLS for ``serve``: both files (PEM) or neither.
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    # Where people reach keyplane; an https:// one makes dashboard cookies Secure everywhere.
    public_url: str | None = None

    # Deadlines on the store: to connect, for one statement, to wait for a pooled connection.
    store_connect_timeout_seconds: float = Field(default=2.0, gt=0, le=300)
    store_statement_timeout_seconds: float = Field(default=2.0, gt=0, le=3600)
    store_pool_timeout_seconds: float = Field(default=2.0, gt=0, le=300)
    # The upstream: waiting for a pooled connection, and for the first byte of the answer.
    upstream_pool_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    upstream_first_byte_timeout_seconds: float = Field(default=300.0, gt=0, le=3600)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies_are_networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        for cidr in value:
            ipaddress.ip_network(str(cidr).strip(), strict=False)  # ValueError names the entry
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url_is_http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _tls_needs_both_files(self) -> Settings:
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("set both KEYPLANE_TLS_CERTFILE and KEYPLANE_TLS_KEYFILE, or neither")
        return self

    @property
    def served_over_https(self) -> bool:
        """Whether people reach keyplane over HTTPS whatever a request says (TLS or the URL)."""
        return self.tls_certfile is not None or (self.public_url or "").startswith("https://")

    @field_validator("default_price")
    @classmethod
    def _price_is_input_output(cls, value: str | None) -> str | None:
        if value is not None and not _DEFAULT_PRICE.match(value):
            raise ValueError(
                "write USD per 1M tokens as INPUT/OUTPUT or INPUT/OUTPUT/CACHED_INPUT, "
                "for example 2.50/10 or 2.50/10/1.25"
            )
        return value

    @model_validator(mode="after")
    def _tiers_are_ordered(self) -> Settings:
        days = self.usage_day_retention_days
        if self.usage_hour_retention_days <= self.usage_minute_retention_days:
            raise ValueError(
                "KEYPLANE_USAGE_HOUR_RETENTION_DAYS must be longer than "
                "KEYPLANE_USAGE_MINUTE_RETENTION_DAYS"
            )
        if days is not None and days <= self.usage_hour_retention_days:
            raise ValueError(
                "KEYPLANE_USAGE_DAY_RETENTION_DAYS must be longer than "
                "KEYPLANE_USAGE_HOUR_RETENTION_DAYS"
            )
        return self

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


def environment(env_file: Path | None = Path(".env")) -> dict[str, str]:
    """The process environment over the ``.env`` file's values (the real environment wins).

    What the upstreams file's ``${NAME}`` references resolve against, the same way settings do.
    """
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        values = {name: value for name, value in dotenv_values(env_file).items() if value}
    return values | dict(os.environ)
