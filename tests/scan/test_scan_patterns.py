"""The rules: each finds its kind of secret and stays quiet on look-alikes and examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyplane.keys.format import KeyKind, generate_key
from keyplane.scan.finding import findings_in, redact_secret
from keyplane.scan.patterns import Detector
from keyplane.scan.rules import CONTEXT_RULES, PUBLISHED_EXAMPLES, RULES, is_example
from scan.scan_fakes import bound_samples, near_misses, samples

SAMPLES = samples()
BOUND = bound_samples()
NEAR_MISSES = near_misses()


def _found(text: str) -> list[tuple[str, str]]:
    return [(f.rule_id, f.secret) for f in findings_in(Detector(), text.encode(), "x.py")]


def test_every_rule_has_a_positive_sample() -> None:
    covered = {rule for rule, _ in SAMPLES.values()} | {rule for rule, _, _ in BOUND.values()}
    assert covered == {rule.id for rule in RULES}


def test_every_rule_has_a_near_miss() -> None:
    # Each near miss is named after the rule it must not fire: "<rule prefix>-<what>".
    for rule in RULES:
        stem = rule.id.split("-")[0]
        assert any(name.startswith(stem) for name in NEAR_MISSES), rule.id


def test_only_formats_without_a_prefix_are_bound_to_context() -> None:
    assert {rule for rule, _, _ in BOUND.values()} == CONTEXT_RULES
    for rule in RULES:
        assert rule.context == (rule.id in CONTEXT_RULES)
        if rule.context:
            assert all(word == word.lower() for word in rule.keywords), rule.id


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_rule_finds_its_sample_in_code(name: str) -> None:
    rule_id, secret = SAMPLES[name]
    text = f'import os\n\nclient = Client(api_key="{secret}")\n'
    assert _found(text) == [(rule_id, secret)]


@pytest.mark.parametrize("name", sorted(BOUND))
def test_each_context_rule_finds_a_value_assigned_to_its_name(name: str) -> None:
    rule_id, line, secret = BOUND[name]
    assert _found(f"# settings\n{line}\n") == [(rule_id, secret)]


@pytest.mark.parametrize("name", sorted(NEAR_MISSES))
def test_near_miss_is_not_reported(name: str) -> None:
    text = f"value = '{NEAR_MISSES[name]}'\n"
    assert _found(text) == []


@pytest.mark.parametrize("example", sorted(PUBLISHED_EXAMPLES))
def test_published_examples_are_allow_listed(example: str) -> None:
    assert is_example(example)
    assert _found(f"key = '{example}'\n") == []


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_real_looking_sample_is_not_an_example(name: str) -> None:
    _, secret = SAMPLES[name]
    assert not is_example(secret)


def test_keyplane_key_with_one_character_changed_is_not_reported() -> None:
    key = generate_key(KeyKind.SERVICE_ACCOUNT)
    for index in range(8, len(key)):
        changed = key[:index] + ("a" if key[index] != "a" else "b") + key[index + 1 :]
        assert _found(changed) == [], index


def test_keys_of_any_brand_are_found_by_their_checksum() -> None:
    acme = generate_key(KeyKind.PROJECT, brand="acme")
    assert _found(f"k={acme}") == [("keyplane-key", acme)]
    # The brand is part of the checksummed text: a different brand in front fails it.
    assert _found(f"k=acne{acme[4:]}") == []
    # Letters glued in front are another token, not a longer brand.
    assert _found(f"k=x{acme}") == []


def test_allow_marker_hides_only_its_own_line() -> None:
    _, secret = SAMPLES["github-pat"]
    text = f"a = '{secret}'  # keyplane:allow\nb = '{secret}'\n"
    found = list(findings_in(Detector(), text.encode(), "x.py"))
    assert [f.line for f in found] == [2]


def test_line_numbers_count_from_one() -> None:
    _, secret = SAMPLES["aws-akia"]
    found = list(findings_in(Detector(), f"\n\n{secret}\n".encode(), "x.py"))
    assert [f.line for f in found] == [3]


@pytest.mark.parametrize("allow_every", [0, 5])
def test_line_numbers_of_many_hits_on_many_and_on_shared_lines(allow_every: int) -> None:
    keys = [SAMPLES["aws-akia"][1], SAMPLES["github-pat"][1], SAMPLES["groq"][1]]

    def allowed(n: int) -> bool:
        return bool(allow_every) and n % allow_every == 0

    lines = [
        f"{keys[n % 3]} {keys[(n + 1) % 3]}" + (" # keyplane:allow" if allowed(n) else "")
        if n % 7 == 0
        else f"x{n}"
        for n in range(3000)
    ]
    text = "\n".join(lines) + "\n"
    found = list(findings_in(Detector(), text.encode(), "x.py"))
    expected = [n + 1 for n in range(3000) if n % 7 == 0 and not allowed(n) for _ in range(2)]
    assert [f.line for f in found] == expected


def test_one_secret_is_one_finding_even_where_rules_overlap() -> None:
    _, slack = SAMPLES["slack-webhook"]
    _, stripe = SAMPLES["stripe-restricted"]
    assert _found(f"{slack}\n{stripe}\n") == [
        ("slack-webhook-url", slack),
        ("stripe-secret-key", stripe),
    ]


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


@pytest.mark.parametrize("name", sorted(BOUND))
def test_a_context_secret_shows_only_its_last_four_characters(name: str) -> None:
    rule_id, _, secret = BOUND[name]
    assert redact_secret(rule_id, secret) == "..." + secret[-4:]


def test_finding_repr_hides_the_secret() -> None:
    _, secret = SAMPLES["stripe-live"]
    (finding,) = findings_in(Detector(), secret.encode(), "x.py")
    assert secret not in repr(finding)


def test_the_documentation_lists_every_rule() -> None:
    page = (Path(__file__).parents[2] / "docs" / "scanning.md").read_text()
    assert [rule.id for rule in RULES if f"| `{rule.id}` |" not in page] == []
