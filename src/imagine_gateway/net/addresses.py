"""Which internet addresses the gateway may connect to on a client's behalf (the SSRF guard).

A URL a client hands us (a reference image, a webhook endpoint) could name the cloud metadata
service, localhost or an internal host. Every address such a URL's host resolves to is judged here
before any connection is opened.

    is_public_ip("93.184.216.34")    # True
    is_public_ip("169.254.169.254")  # False: link-local, the metadata service
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Protocol

import httpx

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Ranges that must never be fetched, listed explicitly because ``ipaddress``'s ``is_global`` and
# friends have shifted between Python releases (e.g. IPv4 multicast counts as "global").
_NON_PUBLIC_NETWORKS: tuple[_IPNetwork, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, including the 169.254.169.254 metadata service
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, including broadcast
        "::/128",
        "::1/128",
        "::/96",  # deprecated IPv4-compatible
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments, including Teredo
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # deprecated site-local
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class Resolver(Protocol):
    """Turns a host name into the IP addresses (as strings) a connection could go to."""

    async def resolve(self, host: str, port: int) -> list[str]: ...


class SystemResolver:
    """The operating system's resolver, via ``loop.getaddrinfo``."""

    async def resolve(self, host: str, port: int) -> list[str]:
        """Return the distinct addresses of ``host``, in resolver order."""
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public_ip(ip: str) -> bool:
    """Whether ``ip`` is a public internet address (not loopback, private, link-local, ...).

    IPv6 addresses that embed an IPv4 one (IPv4-mapped, 6to4, NAT64) are judged by the embedded one.
    Anything that does not parse as an address is not public.
    """
    try:
        address: _IPAddress = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return False  # a zone index only means something on a local link
        embedded = address.ipv4_mapped or address.sixtofour or _nat64_embedded(address)
        if embedded is not None:
            return is_public_ip(str(embedded))
    if any(address in network for network in _NON_PUBLIC_NETWORKS):
        return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def default_port(url: httpx.URL) -> int:
    """The URL's port, or its scheme's default."""
    if url.port is not None:
        return url.port
    return 443 if url.scheme == "https" else 80


def is_ip_literal(host: str) -> bool:
    """True when ``host`` is an IP address rather than a name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _nat64_embedded(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None
