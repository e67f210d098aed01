"""Routing by model: the first upstream whose glob patterns match."""

from __future__ import annotations

import pytest

from keyplane.upstreams.routing import ModelRouter

ROUTER = ModelRouter([["gpt-*", "o?-mini"], ["claude-*"], ["gpt-4o-special", "mistral-*"], []])


@pytest.mark.parametrize(
    ("model", "upstream"),
    [
        ("gpt-4o", 0),
        ("o3-mini", 0),
        ("o3-mini-high", None),  # a glob matches the whole name
        ("claude-sonnet-4-5", 1),
        ("gpt-4o-special", 0),  # the first upstream that matches wins
        ("mistral-large", 2),
        ("Claude-sonnet", None),  # case matters, as in model names
        ("llama-3", None),
        ("", None),
    ],
)
def test_the_first_upstream_whose_pattern_matches_serves_the_model(
    model: str, upstream: int | None
) -> None:
    assert ROUTER.route(model) == upstream
    assert ROUTER.route(model) == upstream  # and again, from the cache


def test_a_catch_all_first_upstream_serves_everything() -> None:
    router = ModelRouter([["*"], ["claude-*"]])
    assert router.route("claude-x") == 0 and router.route("anything") == 0


def test_character_classes_and_regex_characters_are_globs_not_regexes() -> None:
    router = ModelRouter([["gpt-[45]*"], ["a.b+c"]])
    assert router.route("gpt-4o") == 0 and router.route("gpt-3.5") is None
    assert router.route("a.b+c") == 1 and router.route("aXbbc") is None


def test_many_distinct_names_are_still_answered_once_the_cache_is_full() -> None:
    router = ModelRouter([["m-*"]])
    answers = {router.route(f"m-{i}") for i in range(12_000)}
    assert answers == {0} and router.route("x-1") is None
