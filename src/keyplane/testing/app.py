"""The stand-in upstream's ASGI app: OpenAI's endpoints, bearer auth, hooks and a request log.

Every call is checked, logged (without ``Authorization``), delayed if asked, then answered
with deterministic content whose token counts ``keyplane.testing.tokens`` documents.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import unquote

from starlette.types import Receive, Scope, Send

from keyplane.testing import payloads
from keyplane.testing.hooks import Hooks, UpstreamError, injected_error
from keyplane.testing.tokens import (
    Endpoint,
    TokenCounts,
    expected_usage,
    filler_words,
    override_counts,
)
from keyplane.testing.wire import (
    JSON,
    JsonReply,
    Reply,
    Request,
    StreamReply,
    data_frames,
    event_frames,
    loads,
    new_id,
    read_request,
)

Handler = Callable[[JSON, Hooks], Reply]
REQUEST_LOG_SIZE = 1000
LOG_PATH = "/_test/requests"
_MODEL_PREFIX = "/v1/models/"
_TEXT = (str, list)
# Required fields of each endpoint and the JSON types they may take.
_REQUIRED: dict[Endpoint, dict[str, type | tuple[type, ...]]] = {
    "chat": {"model": str, "messages": list},
    "completions": {"model": str, "prompt": _TEXT},
    "embeddings": {"model": str, "input": _TEXT},
    "responses": {"model": str},
}
_DIMENSIONS = {"text-embedding-3-large": 3072}
_MAX_DIMENSIONS = 4096


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return loads(raw)
    except ValueError:
        raise UpstreamError(400, "We could not parse the JSON body of your request.") from None


def _checked(endpoint: Endpoint, body: Any) -> JSON:
    if not isinstance(body, dict):
        raise UpstreamError(400, "The request body must be a JSON object.")
    for field, types in _REQUIRED[endpoint].items():
        value = body.get(field)
        if value in (None, "", []):
            message = f"Missing required parameter: '{field}'."
            raise UpstreamError(400, message, param=field, code="missing_required_parameter")
        if not isinstance(value, types):
            message = f"Invalid type for '{field}'."
            raise UpstreamError(400, message, param=field, code="invalid_type")
    return body


def _counts(endpoint: Endpoint, body: JSON, hooks: Hooks) -> TokenCounts:
    try:
        counts = expected_usage(endpoint, body)
        return counts if hooks.usage is None else override_counts(counts, hooks.usage)
    except ValueError as error:
        raise UpstreamError(400, str(error)) from None


def _include_usage(body: JSON) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _generated(
    endpoint: Endpoint,
    prefix: str,
    whole: Callable[[payloads.Head, str, TokenCounts], JSON],
    chunks: Callable[[payloads.Head, Sequence[str], TokenCounts, bool], list[JSON]],
) -> Handler:
    """A handler for chat or legacy completions: one JSON object, or chunks when streamed."""

    def handle(body: JSON, hooks: Hooks) -> Reply:
        counts = _counts(endpoint, body, hooks)
        words = filler_words(counts.completion)
        tier = payloads.served_tier(body)
        head = payloads.Head(new_id(prefix), int(time.time()), str(body["model"]), tier)
        if body.get("stream") is True:
            frames = data_frames(chunks(head, words, counts, _include_usage(body)), hooks.newline)
            return _stream(frames, hooks)
        return JsonReply(whole(head, " ".join(words), counts))

    return handle


def _stream(frames: list[bytes], hooks: Hooks) -> StreamReply:
    cut = hooks.cut
    if cut is None:
        return StreamReply(frames, hooks.stream_delay)
    return StreamReply(frames, hooks.stream_delay, cut_after=cut.frames, drop=cut.drop)


def _embeddings(body: JSON, hooks: Hooks) -> Reply:
    counts = _counts("embeddings", body, hooks)
    items = body["input"]
    # A flat list of token ids is one input; any other list is one input per item.
    single = isinstance(items, str) or all(isinstance(item, int) for item in items)
    model = str(body["model"])
    dimensions = body.get("dimensions", _DIMENSIONS.get(model, 1536))
    if not isinstance(dimensions, int) or not 1 <= dimensions <= _MAX_DIMENSIONS:
        raise UpstreamError(
            400, f"dimensions must be from 1 to {_MAX_DIMENSIONS}", param="dimensions"
        )
    return JsonReply(
        payloads.embedding_list(
            model=model,
            count=1 if single else len(items),
            dimensions=dimensions,
            b64=body.get("encoding_format") == "base64",
            prompt=counts.prompt,
        )
    )


def _responses(body: JSON, hooks: Hooks) -> Reply:
    counts = _counts("responses", body, hooks)
    words = filler_words(counts.completion)
    ident, message_id, created = new_id("resp_"), new_id("msg_"), int(time.time())
    if body.get("stream") is True:
        events = payloads.response_events(
            ident=ident,
            message_id=message_id,
            created=created,
            body=body,
            words=words,
            counts=counts,
        )
        return _stream(event_frames(events, hooks.newline), hooks)
    item = payloads.output_message(message_id, " ".join(words), done=True)
    usage = payloads.response_usage(counts)
    return JsonReply(
        payloads.response_object(
            ident=ident, created=created, body=body, output=[item], usage=usage
        )
    )


_POSTS: dict[str, tuple[Endpoint, Handler]] = {
    "/v1/chat/completions": (
        "chat",
        _generated("chat", "chatcmpl-", payloads.chat_completion, payloads.chat_chunks),
    ),
    "/v1/completions": (
        "completions",
        _generated(
            "completions", "cmpl-", payloads.text_completion, payloads.text_completion_chunks
        ),
    ),
    "/v1/embeddings": ("embeddings", _embeddings),
    "/v1/responses": ("responses", _responses),
}


def _get(path: str) -> Reply:
    if path == "/v1/models":
        return JsonReply(payloads.model_list())
    if not path.startswith(_MODEL_PREFIX):
        raise UpstreamError(404, f"Invalid URL (GET {path})")
    model = unquote(path.removeprefix(_MODEL_PREFIX))
    if model not in payloads.MODEL_IDS:
        message = f"The model '{model}' does not exist"
        raise UpstreamError(404, message, param="model", code="model_not_found")
    return JsonReply(payloads.model_object(model))


# Headers that carry a provider key, at one provider or another: never logged.
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key"})


class UpstreamApp:
    """An OpenAI-compatible stand-in for tests and benchmarks; see ``keyplane.testing``.

    The Anthropic- and Azure-shaped stand-ins (``keyplane.testing.anthropic`` and ``.azure``)
    subclass it: they read the key from their provider's header and route their own paths.
    """

    def __init__(
        self,
        *,
        api_key: str,
        delay_seconds: float,
        log_size: int,
        fail_status: int | None = None,
    ) -> None:
        self._expected = api_key.encode()
        self._delay = delay_seconds
        self._fail_status = fail_status
        self.requests: deque[JSON] = deque(maxlen=log_size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # a websocket is refused by the server when the app returns
        request = await read_request(scope, receive)
        try:
            reply = await self._answer(request)
        except UpstreamError as error:
            reply = self.error_reply(error)
        await reply.send(send)

    def error_reply(self, error: UpstreamError) -> Reply:
        """An error in this provider's shape."""
        return JsonReply(error.body, error.status)

    def presented_key(self, request: Request) -> str | None:
        """The key the request authenticates with: OpenAI's is a bearer token."""
        header = request.headers.get("authorization")
        if header is None:
            return None
        return header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""

    async def _answer(self, request: Request) -> Reply:
        if request.path == LOG_PATH:
            return self._log_reply(request.method)
        auth = self._auth(self.presented_key(request))
        body = self._record(request, auth)
        if auth != "valid":
            message = "Incorrect API key provided." if auth == "invalid" else "Missing API key."
            raise UpstreamError(401, message, code="invalid_api_key")
        hooks = Hooks.read(request.headers, body)
        if delay := self._delay + hooks.delay:
            await asyncio.sleep(delay)
        status = self._fail_status if self._fail_status is not None else hooks.status
        if status is not None:
            raise injected_error(status)
        if hooks.echo_auth:
            echoed = request.headers.get("authorization")
            raise UpstreamError(400, f"Your request had 'Authorization: {echoed}'.")
        return self.route(request, body, hooks)

    def route(self, request: Request, body: Any, hooks: Hooks) -> Reply:
        """Answer an authenticated request of this provider's API."""
        if request.method == "GET":
            return _get(request.path)
        route = _POSTS.get(request.path) if request.method == "POST" else None
        if route is None:
            raise UpstreamError(404, f"Invalid URL ({request.method} {request.path})")
        endpoint, handler = route
        return handler(_checked(endpoint, body), hooks)

    def _auth(self, presented: str | None) -> str:
        if presented is None:
            return "missing"
        valid = hmac.compare_digest(presented.encode("latin-1"), self._expected)
        return "valid" if valid else "invalid"

    def _record(self, request: Request, auth: str) -> Any:
        """Log the request without its ``Authorization``; return its parsed body."""
        headers = {k: v for k, v in request.headers.items() if k not in SECRET_HEADERS}
        entry: JSON = {"method": request.method, "path": request.path, "query": request.query}
        # The raw text stays logged when the body is not JSON.
        entry |= {
            "headers": headers,
            "auth": auth,
            "body": request.raw_body.decode(errors="replace"),
        }
        self.requests.append(entry)
        entry["body"] = body = _parse(request.raw_body)
        return body

    def _log_reply(self, method: str) -> Reply:
        if method == "DELETE":
            cleared = len(self.requests)
            self.requests.clear()
            return JsonReply({"object": "list", "data": [], "deleted": cleared})
        return JsonReply({"object": "list", "data": list(self.requests)})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_upstream_app(
    *,
    api_key: str,
    delay_seconds: float = 0.0,
    log_size: int = REQUEST_LOG_SIZE,
    fail_status: int | None = None,
) -> UpstreamApp:
    """Build the stand-in OpenAI upstream.

    Args:
        api_key: The only bearer token it accepts; others get 401 ``invalid_api_key``.
        delay_seconds: Fixed delay before every answer, as a slow provider would add.
        log_size: How many of the latest requests ``GET /_test/requests`` keeps.
        fail_status: Answer every authenticated call with this error status (a provider
            that is down), for fallback tests.
    """
    if not api_key:
        raise ValueError("api_key must not be empty")
    return UpstreamApp(
        api_key=api_key, delay_seconds=delay_seconds, log_size=log_size, fail_status=fail_status
    )
