"""JSON request documents, parsed with bounds: nesting depth, number of values, model names.

Deep nesting broke re-encoding (orjson stops at 255 levels) and recursive walks further in
(``RecursionError``); a huge array costs memory and time in every walk after it. Each bound
is a 400 that says which one was crossed, checked once, iteratively, right after parsing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from keyplane.config import Settings
from keyplane.errors import BadRequestError

# OpenAI's model ids, fine-tuned ones included, are well under this; longer is not a model.
MAX_MODEL_NAME = 256


@dataclass(frozen=True, slots=True)
class DocumentLimits:
    """How deep a JSON document may nest, and how many values it may hold in all."""

    max_depth: int = 64
    max_values: int = 1_000_000

    @classmethod
    def of(cls, settings: Settings) -> DocumentLimits:
        return cls(max_depth=settings.json_max_depth, max_values=settings.json_max_values)


DEFAULT_LIMITS = DocumentLimits()


def parse_object(raw: bytes, limits: DocumentLimits) -> dict[str, Any]:
    """The JSON object in ``raw``, or a 400 saying what is wrong with it."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        if "depth limit" in str(error) or "recursion" in str(error):
            raise _too_deep(limits) from None
        raise BadRequestError(
            "We could not parse the JSON body of your request. Send a JSON object.",
            code="invalid_json",
        ) from None
    if not isinstance(document, dict):
        raise BadRequestError("The request body must be a JSON object.", code="invalid_json")
    if not within_bounds(raw, limits):
        check_bounds(document, limits)
    return document


def within_bounds(raw: bytes, limits: DocumentLimits) -> bool:
    """Whether the text alone proves the document within ``limits``, without a walk.

    A document nests no deeper than it has opening brackets, and holds at most one value
    per two bytes (every value but the whole takes a byte and a separator or bracket after
    it). Brackets inside strings only make the count larger, so ``True`` is always right;
    ``False`` means only that the walk must decide.
    """
    if len(raw) // 2 + 1 > limits.max_values:
        return False
    return raw.count(b"{") + raw.count(b"[") <= limits.max_depth


def check_bounds(document: Any, limits: DocumentLimits) -> None:
    """Raise a 400 if ``document`` nests deeper or holds more values than ``limits`` allow."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    values = 1
    while pending:
        container, depth = pending.pop()
        if depth > limits.max_depth:
            raise _too_deep(limits)
        children = container.values() if isinstance(container, dict) else container
        values += len(children)
        if values > limits.max_values:
            raise BadRequestError(
                f"The request body holds more than {limits.max_values} JSON values.",
                code="request_too_complex",
            )
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def check_model_name(model: str) -> None:
    """A 400 for a model name no provider would have (so none reaches the usage store)."""
    if len(model) > MAX_MODEL_NAME:
        raise BadRequestError(
            f"The model name is {len(model)} characters long; the most allowed is "
            f"{MAX_MODEL_NAME}.",
            param="model",
            code="invalid_value",
        )


def _too_deep(limits: DocumentLimits) -> BadRequestError:
    return BadRequestError(
        f"The request body nests JSON deeper than {limits.max_depth} levels.",
        code="request_too_deep",
    )
