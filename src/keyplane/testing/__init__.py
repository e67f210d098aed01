"""A stand-in OpenAI upstream for keyplane's tests and benchmarks. Never used in production.

The machines that test keyplane cannot reach OpenAI, so the gateway is pointed at this
instead: an ASGI app (``create_upstream_app``) that answers like OpenAI with deterministic
content and token counts, servable as a process (``python -m keyplane.testing.upstream``,
or ``start_upstream_process`` from a test).

Endpoints, in OpenAI's shapes: ``POST /v1/chat/completions``, ``POST /v1/completions``
(both streamed with ``"stream": true``, with a final usage chunk when
``stream_options.include_usage`` is true), ``POST /v1/embeddings`` (floats or base64),
``POST /v1/responses`` (streamed as ``response.created`` ... ``response.completed``),
``GET /v1/models`` and ``GET /v1/models/{model}`` (404 for a model it does not list).
Any model name is answered, ``unknown-...`` ones too.

Auth: only ``Authorization: Bearer <api_key>`` passes; anything else is a 401 with code
``invalid_api_key``. The key is never logged or echoed.

Token counts: see ``keyplane.testing.tokens`` — ``expected_usage(endpoint, body)`` gives what
a request will be billed, e.g. chat prompt tokens = the words of every message's content
plus ``MESSAGE_OVERHEAD`` per message; completion tokens = ``max_tokens`` (or its siblings)
else ``DEFAULT_COMPLETION_TOKENS``.

Test hooks, each a header or the body's ``metadata["test_<name>"]`` (see
``keyplane.testing.hooks``):

- ``x-test-status: 500`` — answer with that status and an OpenAI error body.
- ``x-test-delay-ms: 2000`` — wait before answering.
- ``x-test-stream-delay-ms: 50`` — wait between stream frames.
- ``x-test-usage: prompt=7,completion=11,cached=3`` — force the token counts (any subset;
  ``reasoning`` and ``audio`` too).
- ``x-test-stream-cut-after: 5`` — send 5 frames of a stream, then end it without its last
  event; ``x-test-stream-cut: drop`` drops the connection there instead.
- ``x-test-sse-newline: crlf`` — frame streams with CRLF (or ``cr``) line ends.

Answers report the ``service_tier`` they were asked for (``flex``, ``priority``, ``scale``),
else ``default``.

Anthropic- and Azure-shaped stand-ins: ``keyplane.testing.anthropic`` and
``keyplane.testing.azure`` (``start_upstream_process(provider="anthropic")``).

Request log: ``GET /_test/requests`` lists the latest requests (``REQUEST_LOG_SIZE``, 1000)
as ``{method, path, query, headers, auth, body}`` — ``headers`` without ``Authorization``,
``auth`` one of ``valid``/``invalid``/``missing``, provider keys never shown — and
``DELETE /_test/requests`` clears it.
"""

from keyplane.testing.app import REQUEST_LOG_SIZE, UpstreamApp, create_upstream_app
from keyplane.testing.process import UpstreamProcess, start_upstream_process
from keyplane.testing.tokens import (
    DEFAULT_COMPLETION_TOKENS,
    MESSAGE_OVERHEAD,
    TokenCounts,
    count_completion_tokens,
    count_prompt_tokens,
    count_words,
    expected_usage,
)

__all__ = [
    "DEFAULT_COMPLETION_TOKENS",
    "MESSAGE_OVERHEAD",
    "REQUEST_LOG_SIZE",
    "TokenCounts",
    "UpstreamApp",
    "UpstreamProcess",
    "count_completion_tokens",
    "count_prompt_tokens",
    "count_words",
    "create_upstream_app",
    "expected_usage",
    "start_upstream_process",
]
