"""The configured upstreams as the gateway calls them, and the route a model takes.

A ``Target`` is one upstream: its pooled client and the provider's ways (which endpoints
it serves, at which path, with which header carrying the key). ``Upstreams`` holds them all
in the file's order and answers, for a model, the targets to try in turn: the first
upstream whose patterns match, then its ``fallbacks``.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import replace
from urllib.parse import quote

import orjson

from keyplane.errors import BadRequestError, NotFoundError
from keyplane.gateway.endpoints import (
    CHAT,
    COMPLETIONS,
    COUNT_TOKENS,
    EMBEDDINGS,
    MESSAGES,
    RESPONSES,
    Endpoint,
)
from keyplane.gateway.http1 import Response
from keyplane.gateway.upstream import MISSING_KEY, Timeouts, Upstream
from keyplane.upstreams.routing import ModelRouter
from keyplane.upstreams.spec import Provider, UpstreamSpec

# Waiting for a free pooled connection and for the first byte: the settings' defaults.
DEFAULT_WAITS = Timeouts()

logger = logging.getLogger(__name__)

_OPENAI_SHAPED = frozenset({CHAT, COMPLETIONS, EMBEDDINGS, RESPONSES})
_SERVES: Mapping[Provider, frozenset[Endpoint]] = {
    Provider.OPENAI: _OPENAI_SHAPED,
    Provider.OPENAI_COMPATIBLE: _OPENAI_SHAPED,
    Provider.AZURE: _OPENAI_SHAPED,
    # Chat Completions go to Anthropic's OpenAI-compatible endpoint.
    Provider.ANTHROPIC: frozenset({MESSAGES, COUNT_TOKENS, CHAT}),
}
_KEY_HEADERS = {
    Provider.ANTHROPIC: ("x-api-key", ""),
    Provider.AZURE: ("api-key", ""),
}


def _missing_key(spec: UpstreamSpec) -> str:
    if spec.key_source.startswith("${"):
        return (
            f"The upstream '{spec.name}' has no API key: set {spec.key_source[2:-1]} in "
            "keyplane's environment or .env file and restart it."
        )
    return f"The upstream '{spec.name}' has no API key; set its api_key and restart keyplane."


class Target:
    """One upstream, with its own connection pool."""

    def __init__(
        self,
        spec: UpstreamSpec,
        *,
        tls: ssl.SSLContext | None = None,
        default: bool = False,
        waits: Timeouts = DEFAULT_WAITS,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.provider = spec.provider
        header, scheme = _KEY_HEADERS.get(spec.provider, ("Authorization", "Bearer "))
        self.client = Upstream(
            base_url=spec.base_url,
            api_key=spec.api_key,
            # The pool wait and first-byte deadline are the settings'; the rest per upstream.
            timeouts=replace(waits, connect=spec.connect_timeout, read=spec.read_timeout),
            tls=tls,
            key_header=header,
            key_scheme=scheme,
            headers=spec.headers,
            missing_key=MISSING_KEY if default else _missing_key(spec),
        )

    def serves(self, endpoint: Endpoint) -> bool:
        return endpoint in _SERVES[self.provider]

    def path(self, endpoint: Endpoint, model: str) -> str:
        """Where ``endpoint`` is at this upstream, relative to its base URL."""
        if self.provider is Provider.ANTHROPIC:
            return "/v1" + endpoint.path
        if self.provider is Provider.AZURE:
            version = "?api-version=" + quote(self.spec.api_version, safe="")
            if endpoint is RESPONSES:  # the Responses API names the deployment in the body
                return "/openai/responses" + version
            deployment = quote(self.spec.deployment(model), safe="")
            return f"/openai/deployments/{deployment}{endpoint.path}{version}"
        return endpoint.path

    def body(self, endpoint: Endpoint, model: str, raw: bytes, parsed: dict[str, object]) -> bytes:
        """The request body for this upstream: Azure's Responses API wants the deployment."""
        if self.provider is Provider.AZURE and endpoint is RESPONSES:
            deployment = self.spec.deployment(model)
            if deployment != model:
                return orjson.dumps({**parsed, "model": deployment})
        return raw

    async def send(
        self, endpoint: Endpoint, model: str, body: bytes, headers: Mapping[str, str]
    ) -> Response:
        """Send a call of ``endpoint`` for ``model``; see ``Upstream.send`` for its errors."""
        if self.provider is Provider.ANTHROPIC and "anthropic-version" not in headers:
            headers = {**headers, "anthropic-version": self.spec.anthropic_version}
        path = self.path(endpoint, model)
        return await self.client.send("POST", path, body=body, headers=headers)


class Upstreams:
    """Every configured upstream, in order; routes a model to the targets that may serve it."""

    def __init__(
        self,
        specs: Sequence[UpstreamSpec],
        *,
        tls: ssl.SSLContext | None = None,
        waits: Timeouts = DEFAULT_WAITS,
    ) -> None:
        default = len(specs) == 1 and specs[0].models == ("*",)
        self.targets = tuple(Target(spec, tls=tls, default=default, waits=waits) for spec in specs)
        self._by_name = {target.name: target for target in self.targets}
        self.router = ModelRouter([spec.models for spec in specs])
        # Each upstream's chain (itself, then its fallbacks) by endpoint, cut to those that
        # serve it: built once, so a call's routing is a router lookup and two dict reads.
        self._chains = [self._chain(target) for target in self.targets]
        # One OpenAI-shaped upstream for every model: /v1/models passes through as before.
        self.single = default and self.targets[0].provider is not Provider.ANTHROPIC

    def provider_keys(self) -> list[str]:
        """Every upstream's key, for masking wherever an answer would echo one."""
        return [t.spec.api_key.get_secret_value() for t in self.targets if t.spec.api_key]

    async def start(self) -> None:
        for target in self.targets:
            logger.info("upstream %s", target.spec.describe())
            if target.spec.literal_key:
                logger.warning(
                    "upstream %s: its api_key is written in the upstreams file; "
                    "reference an environment variable instead, like ${NAME}",
                    target.name,
                )
            await target.client.start()

    async def close(self) -> None:
        for target in self.targets:
            await target.client.close()

    def primary(self, model: str) -> Target | None:
        index = self.router.route(model)
        return None if index is None else self.targets[index]

    def route(self, endpoint: Endpoint, model: str) -> tuple[Target, ...]:
        """The upstreams to try for a call, in turn.

        Raises:
            NotFoundError: no upstream serves ``model`` (404 ``model_not_found``).
            BadRequestError: the one that does cannot serve ``endpoint``.
        """
        index = self.router.route(model)
        if index is None:
            raise model_not_found(model)
        targets = self._chains[index].get(endpoint)
        if not targets:
            first = self.targets[index]
            raise BadRequestError(
                f"The model '{model}' is served by the upstream '{first.name}' "
                f"({first.provider.value}), which has no {'/v1' + endpoint.path} endpoint.",
                param="model",
                code="unsupported_endpoint",
            )
        return targets

    def _chain(self, first: Target) -> dict[Endpoint, tuple[Target, ...]]:
        chain = [first, *(self._by_name[name] for name in first.spec.fallbacks)]
        endpoints = {endpoint for endpoints in _SERVES.values() for endpoint in endpoints}
        return {
            endpoint: tuple(target for target in chain if target.serves(endpoint))
            for endpoint in endpoints
        }


def model_not_found(model: str) -> NotFoundError:
    return NotFoundError(
        f"The model '{model}' does not exist or you do not have access to it.",
        param="model",
        code="model_not_found",
    )
