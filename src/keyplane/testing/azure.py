"""A stand-in Azure OpenAI upstream for keyplane's tests. Never used in production.

Azure's URL shape in front of the OpenAI stand-in's answers (``keyplane.testing``):
``POST /openai/deployments/{deployment}/chat/completions`` (also ``/completions`` and
``/embeddings``), ``POST /openai/responses`` and ``GET /openai/models``, each with an
``api-version`` query parameter, authenticated by an ``api-key`` header. An answer names
the deployment as its model when the body names none. Hooks and the request log are the
OpenAI stand-in's; the log's ``path`` and ``query`` show the deployment and API version.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any
from urllib.parse import parse_qs, unquote

from keyplane.testing.app import REQUEST_LOG_SIZE, UpstreamApp
from keyplane.testing.hooks import Hooks, UpstreamError
from keyplane.testing.payloads import model_list
from keyplane.testing.wire import JsonReply, Reply, Request

_DEPLOYMENT = re.compile(
    r"^/openai/deployments/([^/]+)(/chat/completions|/completions|/embeddings)$"
)


class AzureUpstreamApp(UpstreamApp):
    """The stand-in Azure OpenAI upstream; see the module's docstring."""

    def presented_key(self, request: Request) -> str | None:
        return request.headers.get("api-key")

    def route(self, request: Request, body: Any, hooks: Hooks) -> Reply:
        if not parse_qs(request.query).get("api-version"):
            raise UpstreamError(400, "Missing required query parameter: api-version")
        if request.method == "GET" and request.path == "/openai/models":
            return JsonReply(model_list())
        if request.method == "POST" and request.path == "/openai/responses":
            return super().route(dataclasses.replace(request, path="/v1/responses"), body, hooks)
        match = _DEPLOYMENT.match(request.path) if request.method == "POST" else None
        if match is None:
            raise UpstreamError(404, f"Resource not found: {request.method} {request.path}")
        if isinstance(body, dict) and not body.get("model"):
            body = {**body, "model": unquote(match.group(1))}
        return super().route(dataclasses.replace(request, path="/v1" + match.group(2)), body, hooks)


def create_azure_upstream_app(
    *,
    api_key: str,
    delay_seconds: float = 0.0,
    log_size: int = REQUEST_LOG_SIZE,
    fail_status: int | None = None,
) -> AzureUpstreamApp:
    """Build the stand-in Azure OpenAI upstream; the arguments are ``create_upstream_app``'s."""
    if not api_key:
        raise ValueError("api_key must not be empty")
    return AzureUpstreamApp(
        api_key=api_key, delay_seconds=delay_seconds, log_size=log_size, fail_status=fail_status
    )
