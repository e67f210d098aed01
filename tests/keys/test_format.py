"""The key format of DESIGN.md: prefix, kind, 32 base62 random characters, 6-char checksum."""

from __future__ import annotations

import re
import zlib

import pytest

from keyplane.errors import MalformedKeyError
from keyplane.keys.format import (
    BASE62,
    KeyKind,
    build_key,
    checksum,
    encode_base62,
    generate_key,
    is_valid_key,
    parse_key,
)

SHAPE = re.compile(r"^kp_(proj|svc|admin)_[0-9A-Za-z]{32}[0-9A-Za-z]{6}$")


@pytest.mark.parametrize("kind", list(KeyKind))
def test_generated_key_has_the_documented_shape(kind: KeyKind) -> None:
    key = generate_key(kind)
    assert SHAPE.match(key)
    assert key.startswith(f"kp_{kind.value}_")
    assert parse_key(key).kind is kind


def test_checksum_is_crc32_in_base62_most_significant_first_padded_to_six() -> None:
    body = "kp_proj_" + "a" * 32
    crc = zlib.crc32(body.encode())
    digits = ""
    while crc:
        crc, rest = divmod(crc, 62)
        digits = BASE62[rest] + digits
    assert checksum(body) == digits.rjust(6, "0")
    assert encode_base62(0, 6) == "000000"
    assert encode_base62(61, 6) == "00000z"
    assert encode_base62(62, 6) == "000010"


def test_base62_alphabet_is_digits_then_upper_then_lower() -> None:
    assert BASE62 == "0123456789" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + "abcdefghijklmnopqrstuvwxyz"


def test_keys_are_unique() -> None:
    assert len({generate_key(KeyKind.PROJECT) for _ in range(2000)}) == 2000


def test_brand_prefix_is_a_setting() -> None:
    key = generate_key(KeyKind.SERVICE_ACCOUNT, brand="acme")
    assert key.startswith("acme_svc_")
    assert parse_key(key, brand="acme").kind is KeyKind.SERVICE_ACCOUNT
    with pytest.raises(MalformedKeyError):
        parse_key(key)


def _flip(value: str, index: int) -> str:
    replacement = "A" if value[index] != "A" else "B"
    return value[:index] + replacement + value[index + 1 :]


@pytest.mark.parametrize("index", [8, 20, 39, 40, 45])
def test_a_changed_character_fails_the_checksum(index: int) -> None:
    key = generate_key(KeyKind.PROJECT)
    with pytest.raises(MalformedKeyError, match="checksum"):
        parse_key(_flip(key, index))


@pytest.mark.parametrize(
    "value",
    [
        "",
        "kp_",
        "kp_proj_",
        "sk-proj-abc",
        "kp_user_" + "a" * 38,
        "kp_proj_" + "a" * 37,
        "kp_proj_" + "a" * 39,
        "kp_proj_" + "a" * 31 + "-" + "a" * 6,
        "kp_projAAAA" + "a" * 38,
        "KP_PROJ_" + "a" * 38,
    ],
)
def test_malformed_values_are_refused(value: str) -> None:
    assert not is_valid_key(value)
    with pytest.raises(MalformedKeyError) as caught:
        parse_key(value)
    if len(value) > 12:
        assert value not in str(caught.value)


def test_build_key_round_trips_through_parse() -> None:
    key = build_key(brand="kp", kind=KeyKind.ADMIN, random="Z" * 32)
    parsed = parse_key(key)
    assert parsed.value == key
    assert parsed.random == "Z" * 32
