"""The verify answer's limit report is typed in the SDK, as the server sends it."""

from __future__ import annotations

from keyplane.sdk.verdict import VerifyResult

ANSWER = {
    "valid": False,
    "code": "RATE_LIMITED",
    "key_id": "key_abc",
    "retry_after_seconds": 12.5,
    "limits": [
        {
            "scope": "key",
            "id": "key_abc",
            "requests": {"limit": 60, "remaining": 0, "reset_seconds": 12.5},
            "tokens": None,
            "budget": {
                "limit_micro_usd": 25_000_000,
                "spent_micro_usd": 1_200,
                "reserved_micro_usd": 0,
                "remaining_micro_usd": 24_998_800,
            },
        }
    ],
}


def test_limits_and_retry_after_are_typed() -> None:
    result = VerifyResult.model_validate(ANSWER)
    assert result.retry_after_seconds == 12.5
    assert result.limits is not None
    report = result.limits[0]
    assert report.requests is not None and report.requests.remaining == 0
    assert report.budget is not None and report.budget.remaining_micro_usd == 24_998_800
    assert report.tokens is None
