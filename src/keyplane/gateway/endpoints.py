"""What each gateway endpoint forwards to, needs, and meters."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class StreamUsage(enum.Enum):
    """Where a stream of this endpoint carries its token counts."""

    NONE = "none"
    FINAL_CHUNK = "final_chunk"  # chat/completions: asked for with stream_options.include_usage
    RESPONSE_EVENT = "response_event"  # Responses API: always, in response.completed
    MESSAGE_EVENTS = "message_events"  # Anthropic: message_start, then message_delta


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A metered POST endpoint: its metering name, upstream path and scope."""

    name: str
    path: str
    scope: str
    stream_usage: StreamUsage


CHAT = Endpoint(
    "chat.completions", "/chat/completions", "chat.completions.write", StreamUsage.FINAL_CHUNK
)
COMPLETIONS = Endpoint("completions", "/completions", "completions.write", StreamUsage.FINAL_CHUNK)
EMBEDDINGS = Endpoint("embeddings", "/embeddings", "embeddings.write", StreamUsage.NONE)
RESPONSES = Endpoint("responses", "/responses", "responses.write", StreamUsage.RESPONSE_EVENT)

# Anthropic's Messages API, in Anthropic's shapes (``gateway.anthropic``).
MESSAGES = Endpoint("messages", "/messages", "messages.write", StreamUsage.MESSAGE_EVENTS)
COUNT_TOKENS = Endpoint(
    "messages.count_tokens", "/messages/count_tokens", "messages.write", StreamUsage.NONE
)

POST_ENDPOINTS = (CHAT, COMPLETIONS, EMBEDDINGS, RESPONSES)
ANTHROPIC_ENDPOINTS = (MESSAGES, COUNT_TOKENS)
MODELS_SCOPE = "models.read"
