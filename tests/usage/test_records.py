"""Reading usage blocks: known counts into ``Tokens``, every other positive count kept."""

from __future__ import annotations

import logging

import pytest

from keyplane.usage.records import (
    MAX_EXTRA_CANDIDATES,
    MAX_EXTRA_KINDS,
    MAX_TOKENS,
    ODD_VALUES,
    OddValues,
    Tokens,
    UsageReport,
    extra_tokens,
    report_of,
)


def test_a_chat_answer_gives_tokens_tier_and_the_kinds_keyplane_has_no_column_for() -> None:
    answer = {
        "service_tier": "priority",
        "usage": {
            "prompt_tokens": 20,
            "completion_tokens": 9,
            "total_tokens": 29,
            "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 3},
            "completion_tokens_details": {
                "reasoning_tokens": 5,
                "accepted_prediction_tokens": 2,
                "rejected_prediction_tokens": 0,
            },
        },
    }
    assert report_of(answer) == UsageReport(
        Tokens(20, 9, 4, 5),
        "priority",
        (
            ("prompt_tokens_details.audio_tokens", 3),
            ("completion_tokens_details.accepted_prediction_tokens", 2),
        ),
    )


def test_an_answer_without_usage_reports_nothing() -> None:
    assert report_of({"choices": []}) is None
    assert report_of({"usage": None}) is None
    assert report_of([1, 2]) is None


def test_odd_values_and_names_are_not_kept_and_the_kinds_are_bounded() -> None:
    usage = {
        "x_tokens": -3,
        "y_tokens": True,
        "w" * 100: 5,
        **{f"kind_{n}": n + 1 for n in range(50)},
    }
    kept = extra_tokens(usage)
    assert len(kept) == MAX_EXTRA_KINDS
    assert all(name.startswith("kind_") for name, _ in kept)


def test_zeros_and_known_counts_are_not_kept_and_kinds_in_details_are_bounded_too() -> None:
    usage = {
        "prompt_tokens": 5,
        "total_tokens": 5,
        "audio_tokens": 0,
        "prompt_tokens_details": {"cached_tokens": 2, "audio_tokens": 0, "image_tokens": None},
        "output_tokens_details": {f"kind_{n}": n + 1 for n in range(50)},
    }
    kept = extra_tokens(usage)
    assert kept == tuple((f"output_tokens_details.kind_{n}", n + 1) for n in range(MAX_EXTRA_KINDS))


def test_extra_counts_are_cleaned_as_the_billed_counts_are() -> None:
    # A digit string counts as its number; an absurd one is clamped, so it cannot make the
    # flush of usage_token_kinds overflow for everyone.
    kept = dict(extra_tokens({"z_tokens": "7", "huge_tokens": 10**19}))
    assert kept == {"z_tokens": 7, "huge_tokens": MAX_TOKENS}


def test_an_absurd_service_tier_is_not_recorded() -> None:
    report = report_of({"service_tier": "x" * 1000, "usage": {"prompt_tokens": 1}})
    assert report is not None and report.service_tier == ""


def test_a_usage_block_of_a_hundred_thousand_odd_counts_is_read_only_so_far() -> None:
    before = ODD_VALUES.count
    assert extra_tokens({f"kind_{n}": -1 for n in range(100_000)}) == ()
    assert ODD_VALUES.count - before == MAX_EXTRA_CANDIDATES
    nested = {"x_details": {f"kind_{n}": "many" for n in range(100_000)}}
    assert extra_tokens(nested) == ()
    assert ODD_VALUES.count - before == 2 * MAX_EXTRA_CANDIDATES


def test_odd_values_are_all_counted_but_warned_of_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    odd = OddValues(every=60, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="keyplane.usage.records"):
        for _ in range(1000):
            odd.add("prompt_tokens", -1, 0)
        now[0] = 59.9
        odd.add("prompt_tokens", -1, 0)
        now[0] = 60.0
        odd.add("completion_tokens", "x" * 10_000, 0)
    assert odd.count == 1002
    assert [r.getMessage() for r in caplog.records] == [
        "upstream usage gave prompt_tokens = -1; counted as 0",
        "upstream usage gave completion_tokens = "
        + repr("x" * 10_000)[:40]
        + "; counted as 0 (1000 more odd values since the last warning)",
    ]
