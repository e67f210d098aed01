"""The bounds of a JSON body: the cheap proof from its text never passes what the walk refuses."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from keyplane.errors import BadRequestError
from keyplane.http.documents import DocumentLimits, check_bounds, parse_object, within_bounds


def _walk_allows(document: Any, limits: DocumentLimits) -> bool:
    try:
        check_bounds(document, limits)
    except BadRequestError:
        return False
    return True


def _document(rng: random.Random, depth: int) -> Any:
    """A random JSON value, packed tight (the case that brings the text bound closest)."""
    roll = rng.random()
    if depth > 6 or roll < 0.35:
        return rng.choice([0, 1, "", "[{", None, True])  # a string may hold brackets
    if roll < 0.7:
        return [_document(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {str(n): _document(rng, depth + 1) for n in range(rng.randrange(4))}


def test_whatever_the_text_proves_within_bounds_the_walk_allows_too() -> None:
    rng = random.Random(17)
    proved = 0
    for _ in range(3000):
        document = {"m": _document(rng, 1)}
        raw = orjson.dumps(document)
        limits = DocumentLimits(max_depth=rng.randrange(1, 9), max_values=rng.randrange(1, 40))
        if within_bounds(raw, limits):
            proved += 1
            assert _walk_allows(document, limits), raw
    assert proved > 300  # the shortcut was taken often enough to have been tested


@pytest.mark.parametrize(
    ("raw", "limits"),
    [
        (b'{"a":[0,0,0]}', DocumentLimits(max_depth=2, max_values=7)),  # 13 bytes, 5 values
        (b'{"a":[[[[]]]]}', DocumentLimits(max_depth=5, max_values=8)),  # 5 levels
    ],
)
def test_the_text_bound_is_tight_enough_to_take_a_document_at_its_limits(
    raw: bytes, limits: DocumentLimits
) -> None:
    assert within_bounds(raw, limits)
    assert parse_object(raw, limits)


def test_a_document_past_either_limit_is_refused_whichever_way_it_is_checked() -> None:
    deep = b'{"a":' + b"[" * 9 + b"]" * 9 + b"}"
    wide = b'{"a":[' + b"0," * 50 + b"0]}"
    with pytest.raises(BadRequestError, match="deeper than 8"):
        parse_object(deep, DocumentLimits(max_depth=8, max_values=1000))
    with pytest.raises(BadRequestError, match="more than 40"):
        parse_object(wide, DocumentLimits(max_depth=8, max_values=40))
