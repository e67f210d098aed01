"""Hashing for storage, redaction for display, constant-time comparison."""

from __future__ import annotations

import hashlib

import pytest

from keyplane.keys import constant_time_equal, generate_key, hash_key, redact
from keyplane.keys.format import KeyKind


def test_hash_is_sha256_hex_of_the_whole_key() -> None:
    key = generate_key(KeyKind.PROJECT)
    assert hash_key(key) == hashlib.sha256(key.encode()).hexdigest()
    assert key not in hash_key(key)


def test_redacted_form_keeps_prefix_and_last_four() -> None:
    key = generate_key(KeyKind.PROJECT)
    assert redact(key) == f"kp_proj_...{key[-4:]}"


@pytest.mark.parametrize("value", ["short", "", "abcdefghijkl", "sk-" + "x" * 40])
def test_redaction_of_other_strings_shows_little(value: str) -> None:
    shown = redact(value)
    assert len(shown.replace("...", "")) <= 4 or shown.endswith(value[-4:])
    if len(value) > 8:
        assert value not in shown


def test_constant_time_equal() -> None:
    assert constant_time_equal("abc", "abc")
    assert not constant_time_equal("abc", "abd")
    assert not constant_time_equal("abc", "abcd")
