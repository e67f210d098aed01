"""Client addresses and IP allow-lists.

The client address is the TCP peer, unless the peer is a trusted proxy
(``KEYPLANE_TRUSTED_PROXIES``): then ``X-Forwarded-For`` is read from the right, skipping
trusted proxies, and the first other address is the client. Without trusted proxies the
header is ignored, so a client cannot claim an address by sending it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _network(cidr: str) -> Network | None:
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return None


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """CIDRs (or single addresses) as networks; ``ValueError`` names a bad entry."""
    networks = []
    for cidr in cidrs:
        network = _network(cidr)
        if network is None:
            raise ValueError(f"not an IP address or CIDR: {cidr!r}")
        networks.append(network)
    return tuple(networks)


@lru_cache(maxsize=4096)
def _allow_list(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    # An entry that does not parse allows nothing rather than failing the call.
    return tuple(network for cidr in cidrs if (network := _network(cidr)) is not None)


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _within(address: Address, networks: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def ip_allowed(address: str | None, allowed: Sequence[str]) -> bool:
    """True when ``allowed`` is empty, or ``address`` is inside one of its networks."""
    if not allowed:
        return True
    parsed = _address(address) if address else None
    return parsed is not None and _within(parsed, _allow_list(tuple(allowed)))


class ClientAddress:
    """Finds the client's address of a request, trusting ``X-Forwarded-For`` only from proxies."""

    def __init__(self, trusted_proxies: Sequence[str] = ()) -> None:
        self.trusted = parse_networks(trusted_proxies)

    def of(self, peer: str | None, forwarded_for: str | None) -> str | None:
        if not self.trusted or not forwarded_for or peer is None:
            return peer
        peer_address = _address(peer)
        if peer_address is None or not _within(peer_address, self.trusted):
            return peer
        client = peer
        for hop in reversed(forwarded_for.split(",")):
            address = _address(hop)
            if address is None:
                break  # a garbled hop: trust nothing further left of it
            client = str(address)
            if not _within(address, self.trusted):
                break
        return client
