"""The upstreams file (``KEYPLANE_UPSTREAMS_FILE``), read with the standard library's tomllib.

Without the file, the ``KEYPLANE_UPSTREAM_*`` settings define one ``openai`` upstream that
serves every model, exactly as before there was a file. A file that cannot be used raises
``UpstreamsFileError`` with one line naming the file, the upstream and the field.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from pydantic import SecretStr

from keyplane.config import Settings
from keyplane.errors import ValidationFailedError
from keyplane.upstreams.spec import (
    ANTHROPIC_VERSION,
    DEFAULT_BASE_URLS,
    LITERAL,
    Provider,
    UpstreamSpec,
)

# The name usage records give the one upstream of the KEYPLANE_UPSTREAM_* settings.
DEFAULT_NAME = "openai"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
# Headers keyplane sets itself on every upstream call; a file may not override them.
_RESERVED_HEADERS = frozenset(
    {"authorization", "api-key", "x-api-key", "host", "content-length", "connection"}
    | {"transfer-encoding", "accept-encoding"}
)
_FIELDS = frozenset(
    {"name", "provider", "base_url", "api_key", "models", "fallbacks", "headers"}
    | {"connect_timeout_seconds", "read_timeout_seconds", "deployments", "api_version"}
    | {"anthropic_version"}
)
_PROVIDERS = ", ".join(provider.value for provider in Provider)


class UpstreamsFileError(ValidationFailedError):
    """The upstreams file cannot be used; the message is one line that says where and why."""


def load_upstreams(settings: Settings, environ: Mapping[str, str]) -> tuple[UpstreamSpec, ...]:
    """The upstreams of the file in ``settings``, or the one of the ``KEYPLANE_UPSTREAM_*`` ones.

    ``environ`` resolves the file's ``${NAME}`` references (``keyplane.config.environment``).
    """
    if settings.upstreams_file is None:
        return (default_upstream(settings),)
    return read_upstreams(settings.upstreams_file, environ, settings)


def default_upstream(settings: Settings) -> UpstreamSpec:
    """The single upstream of the ``KEYPLANE_UPSTREAM_*`` settings: every model goes there."""
    return UpstreamSpec(
        name=DEFAULT_NAME,
        provider=Provider.OPENAI,
        base_url=settings.upstream_base_url,
        api_key=settings.upstream_api_key,
        key_source="KEYPLANE_UPSTREAM_API_KEY",
        models=("*",),
        connect_timeout=settings.upstream_connect_timeout_seconds,
        read_timeout=settings.upstream_read_timeout_seconds,
    )


def read_upstreams(
    path: Path, environ: Mapping[str, str], settings: Settings
) -> tuple[UpstreamSpec, ...]:
    """Parse and check a file; ``settings`` gives the default timeouts."""
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except OSError as error:
        raise UpstreamsFileError(f"{path}: cannot read it: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UpstreamsFileError(f"{path}: not valid TOML: {error}") from None
    entries = data.get("upstream")
    extra = sorted(set(data) - {"upstream"})
    if extra:
        raise UpstreamsFileError(f"{path}: unknown table {extra[0]!r}; write [[upstream]] entries")
    if not isinstance(entries, list) or not entries:
        raise UpstreamsFileError(f"{path}: no [[upstream]] entries")
    specs = [_Entry(path, i, entry).spec(environ, settings) for i, entry in enumerate(entries)]
    _check_names(path, specs)
    return tuple(specs)


def _check_names(path: Path, specs: list[UpstreamSpec]) -> None:
    names: set[str] = set()
    for spec in specs:
        if spec.name in names:
            raise UpstreamsFileError(f"{path}: upstream '{spec.name}': field 'name': used twice")
        names.add(spec.name)
    for spec in specs:
        for fallback in spec.fallbacks:
            if fallback not in names or fallback == spec.name:
                why = "is itself" if fallback == spec.name else "names no upstream in the file"
                message = f"field 'fallbacks': {fallback!r} {why}"
                raise UpstreamsFileError(f"{path}: upstream '{spec.name}': {message}")


class _Entry:
    """One ``[[upstream]]`` table while it is checked, field by field."""

    def __init__(self, path: Path, index: int, entry: Any) -> None:
        self.path = path
        self.where = f"upstream #{index + 1}"
        if not isinstance(entry, dict):
            self.fail("", "must be a table")
        self.entry: dict[str, Any] = entry
        name = entry.get("name")
        if isinstance(name, str) and _NAME.match(name):
            self.where = f"upstream '{name}'"

    def fail(self, field: str, message: str) -> NoReturn:
        at = f": field '{field}'" if field else ""
        raise UpstreamsFileError(f"{self.path}: {self.where}{at}: {message}")

    def spec(self, environ: Mapping[str, str], settings: Settings) -> UpstreamSpec:
        unknown = sorted(set(self.entry) - _FIELDS)
        if unknown:
            self.fail(unknown[0], "unknown field")
        name = self.text("name")
        if not _NAME.match(name):
            self.fail("name", "use letters, digits, '.', '_' or '-' (at most 64)")
        provider = self.provider()
        key, source = self.api_key(environ)
        return UpstreamSpec(
            name=name,
            provider=provider,
            base_url=self.base_url(provider),
            api_key=key,
            key_source=source,
            models=self.strings("models", required=True),
            fallbacks=self.strings("fallbacks"),
            connect_timeout=self.seconds(
                "connect_timeout_seconds", settings.upstream_connect_timeout_seconds
            ),
            read_timeout=self.seconds(
                "read_timeout_seconds", settings.upstream_read_timeout_seconds
            ),
            headers=self.headers(environ),
            deployments=self.deployments(),
            api_version=self.api_version(provider),
            anthropic_version=self.text("anthropic_version", ANTHROPIC_VERSION),
        )

    def text(self, field: str, default: str | None = None) -> str:
        value = self.entry.get(field, default)
        if value is None:
            self.fail(field, "is required")
        if not isinstance(value, str) or not value.strip():
            self.fail(field, "must be a non-empty string")
        return str(value).strip()

    def provider(self) -> Provider:
        value = self.text("provider")
        try:
            return Provider(value)
        except ValueError:
            self.fail("provider", f"{value!r} is not one of {_PROVIDERS}")

    def base_url(self, provider: Provider) -> str:
        url = self.text("base_url", DEFAULT_BASE_URLS.get(provider))
        if not re.match(r"^https?://[^/?#\s]+(/[^?#\s]*)?$", url):
            self.fail("base_url", f"{url!r} is not an http(s) URL")
        url = url.rstrip("/")
        if provider is Provider.ANTHROPIC:
            url = url.removesuffix("/v1")  # keyplane adds Anthropic's /v1 paths itself
        if provider is Provider.AZURE:
            url = url.removesuffix("/openai")  # Azure's /openai/deployments/... too
        return url

    def api_key(self, environ: Mapping[str, str]) -> tuple[SecretStr | None, str]:
        value = self.text("api_key")
        reference = _REFERENCE.match(value)
        if reference is None:
            if "${" in value:
                self.fail("api_key", "write a reference as the whole value, like ${OPENAI_API_KEY}")
            return SecretStr(value), LITERAL
        resolved = environ.get(reference.group(1), "").strip()
        return (SecretStr(resolved) if resolved else None), value

    def strings(self, field: str, *, required: bool = False) -> tuple[str, ...]:
        value = self.entry.get(field)
        if value is None and not required:
            return ()
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(item, str) and item.strip() for item in value)
        ):
            self.fail(field, "must be a non-empty list of strings")
        return tuple(item.strip() for item in value)

    def seconds(self, field: str, default: float) -> float:
        value = self.entry.get(field, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
            self.fail(field, "must be a number of seconds above 0 and at most 3600")
        return float(value)

    def headers(self, environ: Mapping[str, str]) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, value in self.table("headers").items():
            if not _HEADER_NAME.match(name) or name.lower() in _RESERVED_HEADERS:
                self.fail("headers", f"{name!r} cannot be set here")
            if reference := _REFERENCE.match(value):
                value = environ.get(reference.group(1), "")
                if not value:
                    continue  # an unset reference sends no header rather than an empty one
            if "\r" in value or "\n" in value:
                self.fail("headers", f"the value of {name!r} has a line break")
            headers[name] = value
        return headers

    def deployments(self) -> dict[str, str]:
        return self.table("deployments")

    def table(self, field: str) -> dict[str, str]:
        value = self.entry.get(field, {})
        if not isinstance(value, dict) or not all(
            isinstance(item, str) and item for item in value.values()
        ):
            self.fail(field, "must be a table of strings")
        return dict(value)

    def api_version(self, provider: Provider) -> str:
        if provider is not Provider.AZURE:
            if "api_version" in self.entry or "deployments" in self.entry:
                field = "api_version" if "api_version" in self.entry else "deployments"
                self.fail(field, "only an azure upstream takes it")
            return ""
        return self.text("api_version")
