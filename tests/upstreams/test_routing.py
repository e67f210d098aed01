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


@pytest.mark.parametrize(
    ("patterns", "model", "upstream"),
    [
        ([["gpt-*"], ["gpt-4o*"]], "gpt-4o", 0),
        ([["gpt-4o*"], ["gpt-*"]], "gpt-4o-mini", 0),
        ([["gpt-4o*"], ["gpt-*"]], "gpt-3.5", 1),
        ([["gpt-*"], ["gpt-4o"]], "gpt-4o", 0),
        ([["gpt-4o"], ["gpt-*"]], "gpt-4o", 0),
        ([["x"], ["*-mini"], ["gpt-*"]], "gpt-4o-mini", 1),
    ],
)
def test_an_earlier_upstream_wins_whatever_its_patterns_look_like(
    patterns: list[list[str]], model: str, upstream: int
) -> None:
    assert ModelRouter(patterns).route(model) == upstream


def test_routing_agrees_with_fnmatch_tried_upstream_by_upstream() -> None:
    import fnmatch
    import random

    chooser = random.Random(14)
    pieces = ["gpt", "-", "4o", "o", "claude", "mini", "*", "?", "[ab]", "3", "x"]

    def pattern() -> str:
        return "".join(chooser.choice(pieces) for _ in range(chooser.randint(1, 4)))

    for _ in range(200):
        patterns = [[pattern() for _ in range(chooser.randint(0, 4))] for _ in range(6)]
        router = ModelRouter(patterns)
        for _ in range(30):
            name = "".join(chooser.choice([*pieces[:6], "a", "b", "3"]) for _ in range(4))
            expected = next(
                (
                    i
                    for i, ps in enumerate(patterns)
                    if any(fnmatch.fnmatchcase(name, p) for p in ps)
                ),
                None,
            )
            assert router.route(name) == expected, (patterns, name)
