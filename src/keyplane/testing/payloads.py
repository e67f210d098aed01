"""OpenAI's response shapes, filled with the stand-in upstream's deterministic content.

Shapes follow the OpenAI API reference and the ``openai`` SDK's types: ``chat.completion``
and ``chat.completion.chunk``, ``text_completion``, the embeddings ``list``, the Responses API
``response`` object and its streaming events, ``model``, and the error envelope.
"""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from keyplane.testing.tokens import TokenCounts

JSON = dict[str, Any]

SYSTEM_FINGERPRINT = "fp_keyplane_test"
MODEL_CREATED = 1_700_000_000
MODEL_IDS = (
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "o3-mini",
    "gpt-3.5-turbo-instruct",
    "text-embedding-3-small",
    "text-embedding-3-large",
)


def error_body(
    message: str, *, type_: str, param: str | None = None, code: str | None = None
) -> JSON:
    """OpenAI's error envelope."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


# The tiers OpenAI serves at when asked; "auto" and anything else are served at "default".
SERVICE_TIERS = ("flex", "priority", "scale")


def served_tier(body: Mapping[str, Any]) -> str:
    """The ``service_tier`` an answer reports for a request ``body``."""
    tier = body.get("service_tier")
    return tier if isinstance(tier, str) and tier in SERVICE_TIERS else "default"


def chat_usage(counts: TokenCounts) -> JSON:
    """The ``usage`` block of chat completions and completions."""
    return {
        "prompt_tokens": counts.prompt,
        "completion_tokens": counts.completion,
        "total_tokens": counts.total,
        "prompt_tokens_details": {"cached_tokens": counts.cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": counts.reasoning,
            "audio_tokens": counts.audio,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def response_usage(counts: TokenCounts) -> JSON:
    """The ``usage`` block of the Responses API."""
    return {
        "input_tokens": counts.prompt,
        "input_tokens_details": {"cached_tokens": counts.cached},
        "output_tokens": counts.completion,
        "output_tokens_details": {"reasoning_tokens": counts.reasoning},
        "total_tokens": counts.total,
    }


def deltas(words: Sequence[str]) -> list[str]:
    """Split an answer into stream deltas, one word each, that concatenate to the text."""
    return [word if i == 0 else f" {word}" for i, word in enumerate(words)]


@dataclass(frozen=True, slots=True)
class Head:
    """What every object and chunk of one completion shares."""

    ident: str
    created: int
    model: str
    service_tier: str = "default"


def chat_completion(head: Head, text: str, counts: TokenCounts) -> JSON:
    """A non-streamed ``chat.completion``."""
    message: JSON = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
    return {
        "id": head.ident,
        "object": "chat.completion",
        "created": head.created,
        "model": head.model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
        "usage": chat_usage(counts),
        "service_tier": head.service_tier,
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }


def _chat_choice(delta: JSON, finish_reason: str | None = None) -> JSON:
    return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}


def _text_choice(text: str, finish_reason: str | None = None) -> JSON:
    return {"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}


def _chunks(first: JSON, choices: Iterable[JSON], counts: TokenCounts, usage: bool) -> list[JSON]:
    # With include_usage, OpenAI sends "usage": null on every chunk, then one with no choices.
    extra: JSON = {"usage": None} if usage else {}
    chunks = [{**first, "choices": [choice], **extra} for choice in choices]
    if usage:
        chunks.append({**first, "choices": [], "usage": chat_usage(counts)})
    return chunks


def chat_chunks(head: Head, words: Sequence[str], counts: TokenCounts, usage: bool) -> list[JSON]:
    """The ``chat.completion.chunk`` objects of a streamed chat completion."""
    first: JSON = {
        "id": head.ident,
        "object": "chat.completion.chunk",
        "created": head.created,
        "model": head.model,
        "service_tier": head.service_tier,
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }
    choices = [_chat_choice({"role": "assistant", "content": "", "refusal": None})]
    choices += [_chat_choice({"content": delta}) for delta in deltas(words)]
    choices.append(_chat_choice({}, "stop"))
    return _chunks(first, choices, counts, usage)


def _text_head(head: Head) -> JSON:
    return {
        "id": head.ident,
        "object": "text_completion",
        "created": head.created,
        "model": head.model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }


def text_completion(head: Head, text: str, counts: TokenCounts) -> JSON:
    """A non-streamed legacy ``text_completion``."""
    return {
        **_text_head(head),
        "choices": [_text_choice(text, "stop")],
        "usage": chat_usage(counts),
    }


def text_completion_chunks(
    head: Head, words: Sequence[str], counts: TokenCounts, usage: bool
) -> list[JSON]:
    """The ``text_completion`` chunks of a streamed legacy completion."""
    choices = [_text_choice(delta) for delta in deltas(words)] + [_text_choice("", "stop")]
    return _chunks(_text_head(head), choices, counts, usage)


@lru_cache(maxsize=16)
def embedding_vector(dimensions: int) -> tuple[float, ...]:
    """A fixed pseudo-random vector of ``dimensions`` floats in [-0.1, 0.1]."""
    return tuple(((i * 2_654_435_761) % 2001 - 1000) / 10_000 for i in range(dimensions))


@lru_cache(maxsize=16)
def embedding_base64(dimensions: int) -> str:
    """``embedding_vector`` as OpenAI's base64 encoding: little-endian float32s."""
    packed = array("f", embedding_vector(dimensions))
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def embedding_list(*, model: str, count: int, dimensions: int, b64: bool, prompt: int) -> JSON:
    """An embeddings ``list`` of ``count`` identical vectors."""
    vector: object = embedding_base64(dimensions) if b64 else embedding_vector(dimensions)
    data = [{"object": "embedding", "index": i, "embedding": vector} for i in range(count)]
    usage = {"prompt_tokens": prompt, "total_tokens": prompt}
    return {"object": "list", "data": data, "model": model, "usage": usage}


def model_object(model: str) -> JSON:
    """One ``model``."""
    return {"id": model, "object": "model", "created": MODEL_CREATED, "owned_by": "system"}


def model_list() -> JSON:
    """The list of models the stand-in names; it answers for any model all the same."""
    return {"object": "list", "data": [model_object(model) for model in MODEL_IDS]}


def output_message(ident: str, text: str | None, *, done: bool) -> JSON:
    """A Responses API ``message`` output item; ``text=None`` while it has no content yet."""
    content = [] if text is None else [output_text(text)]
    status = "completed" if done else "in_progress"
    return {
        "id": ident,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def output_text(text: str) -> JSON:
    """A Responses API ``output_text`` content part."""
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def response_object(
    *, ident: str, created: int, body: Mapping[str, Any], output: list[JSON], usage: JSON | None
) -> JSON:
    """A Responses API ``response``; ``usage=None`` means it is still in progress."""
    return {
        "id": ident,
        "object": "response",
        "created_at": created,
        "status": "in_progress" if usage is None else "completed",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": body.get("model"),
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "service_tier": served_tier(body),
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": body.get("metadata") or {},
    }


def response_events(
    *,
    ident: str,
    message_id: str,
    created: int,
    body: Mapping[str, Any],
    words: Sequence[str],
    counts: TokenCounts,
) -> list[JSON]:
    """The events of a streamed response, ``response.created`` to ``response.completed``."""
    text = " ".join(words)
    pending = response_object(ident=ident, created=created, body=body, output=[], usage=None)
    item = output_message(message_id, text, done=True)
    done = response_object(
        ident=ident, created=created, body=body, output=[item], usage=response_usage(counts)
    )
    part = {"item_id": message_id, "output_index": 0, "content_index": 0}
    events: list[JSON] = [
        {"type": "response.created", "response": pending},
        {"type": "response.in_progress", "response": pending},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": output_message(message_id, None, done=False),
        },
        {"type": "response.content_part.added", **part, "part": output_text("")},
        *(
            {"type": "response.output_text.delta", **part, "delta": delta, "logprobs": []}
            for delta in deltas(words)
        ),
        {"type": "response.output_text.done", **part, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **part, "part": output_text(text)},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": done},
    ]
    return [{**event, "sequence_number": number} for number, event in enumerate(events)]
