"""Upstream refusals that are keyplane's fault (a 502), and the client's own (passed on)."""

from __future__ import annotations

import orjson
import pytest

from keyplane.gateway.refusals import upstream_refusal


def openai_error(
    code: str | None, message: str = "x", type_: str = "invalid_request_error"
) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}})


@pytest.mark.parametrize(
    ("status", "content", "said"),
    [
        (
            401,
            openai_error("invalid_api_key", "Incorrect API key provided: sk-abc***wxyz."),
            "HTTP 401 invalid_api_key",
        ),
        (403, openai_error("unsupported_country_region_territory"), "HTTP 403 unsupported_country"),
        (403, b"<html>Forbidden</html>", "(HTTP 403)"),
        (
            404,
            openai_error(None, "Invalid URL (POST /v1/v1/chat/completions)"),
            "HTTP 404 invalid_request_error",
        ),
        (404, b"", "(HTTP 404)"),
        (404, openai_error("model_not_found\r\nX-Evil: 1"), "HTTP 404 invalid_request_error"),
    ],
)
def test_keyplanes_own_refusals_become_502_without_the_upstreams_words(
    status: int, content: bytes, said: str
) -> None:
    error = upstream_refusal(status, content)
    assert error is not None
    assert (error.status, error.code, error.type) == (502, "upstream_refused", "server_error")
    assert said in error.message
    assert "sk-abc" not in error.message and "Incorrect" not in error.message
    assert "\n" not in error.message


@pytest.mark.parametrize(
    ("status", "content"),
    [
        (404, openai_error("model_not_found", "The model 'gpt-9' does not exist")),
        (
            404,
            orjson.dumps(
                {
                    "type": "error",
                    "error": {"type": "not_found_error", "message": "model: claude-9"},
                }
            ),
        ),
        (400, openai_error("invalid_value")),
        (429, openai_error("rate_limit_exceeded", type_="requests")),
        (500, b"oops"),
        (200, b"{}"),
    ],
)
def test_the_clients_own_errors_pass_through(status: int, content: bytes) -> None:
    assert upstream_refusal(status, content) is None
