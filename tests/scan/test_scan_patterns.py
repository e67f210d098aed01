"""The rules: each finds its kind of secret and stays quiet on look-alikes."""

from __future__ import annotations

import pytest

from keyplane.keys.format import KeyKind, generate_key
from keyplane.scan.finding import findings_in, redact_secret
from keyplane.scan.patterns import Detector
from scan.scan_fakes import near_misses, samples

SAMPLES = samples()
NEAR_MISSES = near_misses()


def _found(text: str, brand: str = "kp") -> list[tuple[str, str]]:
    detector = Detector(brand=brand)
    return [(f.rule_id, f.secret) for f in findings_in(detector, text.encode(), "x.py")]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_rule_finds_its_sample_in_code(name: str) -> None:
    rule_id, secret = SAMPLES[name]
    text = f'import os\n\nclient = Client(api_key="{secret}")\n'
    assert _found(text) == [(rule_id, secret)]


@pytest.mark.parametrize("name", sorted(NEAR_MISSES))
def test_near_miss_is_not_reported(name: str) -> None:
    text = f"value = '{NEAR_MISSES[name]}'\n"
    assert _found(text) == []


def test_keyplane_key_with_one_character_changed_is_not_reported() -> None:
    key = generate_key(KeyKind.SERVICE_ACCOUNT)
    for index in range(8, len(key)):
        changed = key[:index] + ("a" if key[index] != "a" else "b") + key[index + 1 :]
        assert _found(changed) == [], index


def test_custom_brand_is_found_and_default_brand_is_not() -> None:
    key = generate_key(KeyKind.PROJECT, brand="acme")
    assert _found(key, brand="acme") == [("keyplane-key", key)]
    assert _found(key, brand="kp") == []


def test_allow_marker_hides_only_its_own_line() -> None:
    _, secret = SAMPLES["github-pat"]
    text = f"a = '{secret}'  # keyplane:allow\nb = '{secret}'\n"
    found = list(findings_in(Detector(), text.encode(), "x.py"))
    assert [f.line for f in found] == [2]


def test_line_numbers_count_from_one() -> None:
    _, secret = SAMPLES["aws-akia"]
    found = list(findings_in(Detector(), f"\n\n{secret}\n".encode(), "x.py"))
    assert [f.line for f in found] == [3]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_redaction_keeps_at_most_a_prefix_and_four_characters(name: str) -> None:
    rule_id, secret = SAMPLES[name]
    shown = redact_secret(rule_id, secret)
    assert secret not in shown
    if rule_id == "private-key":
        assert shown == "-----BEGIN RSA PRIVATE KEY-----..."
    else:
        assert len(shown.replace("...", "")) <= 20
    assert "\n" not in shown


def test_finding_repr_hides_the_secret() -> None:
    _, secret = SAMPLES["stripe-live"]
    (finding,) = findings_in(Detector(), secret.encode(), "x.py")
    assert secret not in repr(finding)
