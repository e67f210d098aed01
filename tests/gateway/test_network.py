"""Client addresses behind trusted proxies, and IP allow-lists."""

from __future__ import annotations

import pytest

from keyplane.gateway.network import ClientAddress, ip_allowed, parse_networks


@pytest.mark.parametrize(
    ("address", "allowed", "expected"),
    [
        ("10.1.2.3", [], True),
        ("10.1.2.3", ["10.0.0.0/8"], True),
        ("10.1.2.3", ["192.0.2.1"], False),
        ("2001:db8::1", ["2001:db8::/32", "10.0.0.0/8"], True),
        (None, ["10.0.0.0/8"], False),
        ("10.1.2.3", ["not-a-cidr"], False),
    ],
)
def test_ip_allowed(address: str | None, allowed: list[str], expected: bool) -> None:
    assert ip_allowed(address, allowed) is expected


def test_forwarded_for_is_ignored_without_trusted_proxies() -> None:
    assert ClientAddress().of("10.0.0.1", "203.0.113.9") == "10.0.0.1"


def test_forwarded_for_is_read_from_a_trusted_proxy_skipping_proxies() -> None:
    client = ClientAddress(["10.0.0.0/8"])
    assert client.of("10.0.0.1", "198.51.100.1, 203.0.113.9, 10.0.0.2") == "203.0.113.9"
    assert client.of("192.0.2.5", "203.0.113.9") == "192.0.2.5"  # peer is not a proxy
    assert client.of("10.0.0.1", "garbage") == "10.0.0.1"


def test_bad_trusted_proxy_is_refused() -> None:
    with pytest.raises(ValueError, match="nope"):
        parse_networks(["nope"])
