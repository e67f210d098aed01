"""Log lines: secrets redacted in text and JSON alike, and JSON lines carry their fields."""

from __future__ import annotations

import json
import logging

import pytest

from keyplane.keys.format import generate_key
from keyplane.logs import JsonFormatter, RedactingFilter, redact_text
from keyplane.values.kinds import KeyKind


@pytest.mark.parametrize("kind", list(KeyKind))
def test_every_kind_of_key_is_redacted_to_its_prefix_and_last_four(kind: KeyKind) -> None:
    key = generate_key(kind, brand="acme")
    assert redact_text(f"saw {key}.") == f"saw {key[: key.index('_', 5) + 1]}...{key[-4:]}."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def", "Authorization: Bearer [redacted]"),
        ("key sk-proj-abcdefghijklmnopqrstuvwx1234 leaked", "key sk-proj...1234 leaked"),
        ("gateway call: POST /v1/chat/completions status=200", None),
    ],
)
def test_redaction_of_other_secrets_and_plain_lines(text: str, expected: str | None) -> None:
    assert redact_text(text) == (expected or text)


def test_a_json_line_has_its_fields_and_no_secret_even_in_fields() -> None:
    key = generate_key(KeyKind.PROJECT)
    record = logging.LogRecord(
        "keyplane.gateway.calls", logging.INFO, __file__, 1, "call %s", (key,), None
    )
    record.fields = {"status": 200, "model": f"gpt-4o {key}"}
    assert RedactingFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert (line["level"], line["logger"], line["status"]) == (
        "info",
        "keyplane.gateway.calls",
        200,
    )
    assert key not in json.dumps(line) and line["model"].endswith(key[-4:])
    assert line["time"].endswith("+00:00")
