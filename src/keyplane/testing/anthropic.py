"""A stand-in Anthropic upstream for keyplane's tests. Never used in production.

Anthropic's Messages API in Anthropic's shapes, with the same deterministic token counts as
the OpenAI stand-in (``keyplane.testing.tokens``, endpoint ``messages``):

- ``POST /v1/messages`` — a ``message``, or with ``"stream": true`` the event stream
  ``message_start`` ... ``message_stop``; ``usage`` splits the prompt into
  ``input_tokens`` (uncached), ``cache_read_input_tokens`` and
  ``cache_creation_input_tokens``, which a test forces with
  ``x-test-usage: prompt=20,cached=5,cache_write=7,completion=3``.
- ``POST /v1/messages/count_tokens`` — ``{"input_tokens": N}``.
- ``GET /v1/models`` — Anthropic's model list.
- ``POST /v1/chat/completions`` — Anthropic's OpenAI-compatible endpoint: the OpenAI
  stand-in's answer.

Auth: ``x-api-key: <api_key>`` (or a bearer token, as the OpenAI-compatible endpoint takes);
``/v1/messages`` also wants an ``anthropic-version`` header. Errors have Anthropic's shape,
``{"type": "error", "error": {"type", "message"}}``. Hooks and the request log are the
OpenAI stand-in's (``keyplane.testing``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keyplane.testing.app import REQUEST_LOG_SIZE, UpstreamApp
from keyplane.testing.hooks import Hooks, UpstreamError
from keyplane.testing.payloads import deltas
from keyplane.testing.tokens import TokenCounts, expected_usage, filler_words, override_counts
from keyplane.testing.wire import (
    JSON,
    JsonReply,
    Reply,
    Request,
    StreamReply,
    event_frames,
    new_id,
)

MODEL_IDS = ("claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001", "claude-opus-4-1-20250805")
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def message_usage(counts: TokenCounts) -> JSON:
    """Anthropic's ``usage``: input without the cache reads and writes, which come apart."""
    return {
        "input_tokens": counts.prompt - counts.cached - counts.cache_write,
        "cache_creation_input_tokens": counts.cache_write,
        "cache_read_input_tokens": counts.cached,
        "output_tokens": counts.completion,
        "service_tier": "standard",
    }


def message(ident: str, model: str, text: str | None, counts: TokenCounts) -> JSON:
    """A ``message``; ``text=None`` while it has no content yet (``message_start``)."""
    content = [] if text is None else [{"type": "text", "text": text}]
    usage = message_usage(counts)
    if text is None:
        usage["output_tokens"] = 1  # Anthropic's message_start counts the first token
    return {
        "id": ident,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": None if text is None else "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }


def message_events(ident: str, model: str, words: Sequence[str], counts: TokenCounts) -> list[JSON]:
    """The events of a streamed message, ``message_start`` to ``message_stop``."""
    block = {"type": "text", "text": ""}
    return [
        {"type": "message_start", "message": message(ident, model, None, counts)},
        {"type": "content_block_start", "index": 0, "content_block": block},
        {"type": "ping"},
        *(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": d}}
            for d in deltas(words)
        ),
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": counts.completion},
        },
        {"type": "message_stop"},
    ]


def _checked(body: Any, *, needs_max_tokens: bool) -> JSON:
    if not isinstance(body, dict):
        raise UpstreamError(400, "The request body must be a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise UpstreamError(400, "model: Field required")
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        raise UpstreamError(400, "messages: Field required")
    max_tokens = body.get("max_tokens")
    if needs_max_tokens and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise UpstreamError(400, "max_tokens: Field required")
    return body


def _counts(body: JSON, hooks: Hooks) -> TokenCounts:
    try:
        counts = expected_usage("messages", body)
        return counts if hooks.usage is None else override_counts(counts, hooks.usage)
    except ValueError as error:
        raise UpstreamError(400, str(error)) from None


def _messages(body: JSON, hooks: Hooks) -> Reply:
    counts = _counts(body, hooks)
    words = filler_words(counts.completion)
    ident, model = new_id("msg_"), str(body["model"])
    if body.get("stream") is True:
        return StreamReply(
            event_frames(message_events(ident, model, words, counts)), hooks.stream_delay
        )
    return JsonReply(message(ident, model, " ".join(words), counts))


def _model_list() -> JSON:
    data = [
        {"type": "model", "id": ident, "display_name": ident, "created_at": "2025-08-05T00:00:00Z"}
        for ident in MODEL_IDS
    ]
    return {"data": data, "has_more": False, "first_id": MODEL_IDS[0], "last_id": MODEL_IDS[-1]}


class AnthropicUpstreamApp(UpstreamApp):
    """The stand-in Anthropic upstream; see the module's docstring."""

    def presented_key(self, request: Request) -> str | None:
        key = request.headers.get("x-api-key")
        return key if key is not None else super().presented_key(request)

    def error_reply(self, error: UpstreamError) -> Reply:
        kind = _TYPES.get(error.status, "api_error")
        body = {"type": "error", "error": {"type": kind, "message": str(error)}}
        return JsonReply(body, error.status)

    def route(self, request: Request, body: Any, hooks: Hooks) -> Reply:
        path, method = request.path, request.method
        if path == "/v1/chat/completions":
            return super().route(request, body, hooks)
        if method == "GET" and path == "/v1/models":
            return JsonReply(_model_list())
        if method != "POST" or path not in ("/v1/messages", "/v1/messages/count_tokens"):
            raise UpstreamError(404, f"Not found: {method} {path}")
        if "anthropic-version" not in request.headers:
            raise UpstreamError(400, "anthropic-version: header is required")
        if path == "/v1/messages":
            return _messages(_checked(body, needs_max_tokens=True), hooks)
        counts = _counts(_checked(body, needs_max_tokens=False), hooks)
        return JsonReply({"input_tokens": counts.prompt})


def create_anthropic_upstream_app(
    *,
    api_key: str,
    delay_seconds: float = 0.0,
    log_size: int = REQUEST_LOG_SIZE,
    fail_status: int | None = None,
) -> AnthropicUpstreamApp:
    """Build the stand-in Anthropic upstream; the arguments are ``create_upstream_app``'s."""
    if not api_key:
        raise ValueError("api_key must not be empty")
    return AnthropicUpstreamApp(
        api_key=api_key, delay_seconds=delay_seconds, log_size=log_size, fail_status=fail_status
    )
