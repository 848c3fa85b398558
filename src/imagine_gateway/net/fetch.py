"""Fetch a user-supplied URL without letting it reach the gateway's own network (SSRF).

A URL a client hands us could name the cloud metadata service, localhost or an internal host. So
before every connection (the first and each redirect hop) the host is resolved and *every* address
it resolves to must be public; the connection then goes to that vetted address, pinned, so a second
DNS answer cannot swap in a private one (DNS rebinding). TLS still checks the certificate for the
original host name (SNI). Redirects are followed by hand, the body is size-capped while streaming,
the whole fetch is time-bounded, and the content type is sniffed from the body.

    fetched = await fetch_guarded("https://example.com/cat.png", policy=FetchPolicy())
    fetched.mime_type  # "image/png", whatever the server's Content-Type said
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass, field

import httpx

from imagine_gateway.core.errors import invalid
from imagine_gateway.media.sniff import sniff_mime
from imagine_gateway.net.addresses import Resolver, SystemResolver, default_port, is_ip_literal, is_public_ip
from imagine_gateway.net.tls import http_transport

_IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_SUPPORTED_SCHEMES = frozenset({"http", "https"})


@dataclass(frozen=True)
class FetchPolicy:
    """Limits for one guarded fetch.

    ``allow_private`` lets any address through (loopback included): only for tests of the fetch
    mechanism itself, never in production. ``allowed_test_networks`` is narrower: CIDRs treated as
    public, so a test can serve from, say, ``127.0.0.2/32`` and still see every other private
    address (``127.0.0.1``, ``192.168.1.1``, ...) rejected. Production leaves both at their defaults.
    """

    max_bytes: int = 10 * 1024 * 1024
    timeout_s: float = 10.0
    max_redirects: int = 3
    allowed_schemes: frozenset[str] = frozenset({"https"})
    allow_private: bool = False
    allowed_test_networks: frozenset[str] = frozenset()
    _test_networks: tuple[_IPNetwork, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Parsed once, so a bad CIDR fails when the policy is built rather than mid-fetch.
        networks = tuple(ipaddress.ip_network(cidr) for cidr in sorted(self.allowed_test_networks))
        object.__setattr__(self, "_test_networks", networks)

    def permits(self, ip: str) -> bool:
        """Whether this policy lets a connection go to ``ip``."""
        if self.allow_private:
            return True
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in network for network in self._test_networks) or is_public_ip(ip)


@dataclass(frozen=True)
class Fetched:
    """A fetched body, the final URL after redirects, and the MIME type sniffed from the body."""

    url: str
    body: bytes
    mime_type: str


async def fetch_guarded(
    url: str,
    *,
    policy: FetchPolicy,
    resolver: Resolver | None = None,
    field: str = "url",
    transport: httpx.AsyncBaseTransport | None = None,
) -> Fetched:
    """GET ``url`` under ``policy`` and return the body with its sniffed MIME type.

    Raises ``ValidationFailed`` naming ``field`` for a disallowed scheme, credentials in the URL, a
    host that does not resolve or resolves to any non-public address (on any redirect hop), too many
    redirects, a non-2xx answer, a body over ``policy.max_bytes``, an overall time over
    ``policy.timeout_s``, a connection failure, or a body whose type is not recognised. ``transport``
    is for tests; it is left open.
    """
    owned = transport is None
    active = http_transport() if transport is None else transport
    try:
        async with asyncio.timeout(policy.timeout_s):
            return await _follow(url, policy, resolver or SystemResolver(), field, active)
    except TimeoutError as exc:
        raise invalid(field, f"timed out after {policy.timeout_s} s") from exc
    finally:
        if owned:
            await active.aclose()


async def _follow(
    url: str, policy: FetchPolicy, resolver: Resolver, field: str, transport: httpx.AsyncBaseTransport
) -> Fetched:
    current = _checked_url(url, policy, field, what="URL")
    for hop in range(policy.max_redirects + 1):
        what = "URL" if hop == 0 else "redirect target"
        ips = await _vetted_ips(current, policy, resolver, field, what=what)
        response = await _send(current, ips, policy, field, transport)
        try:
            location = response.headers.get("location")
            if response.status_code in _REDIRECT_STATUSES and location:
                current = _checked_url(_join(current, location, field), policy, field, what="redirect target")
                continue
            if not 200 <= response.status_code < 300:
                raise invalid(field, f"answered HTTP {response.status_code}")
            body = await _read_capped(response, policy, field)
        finally:
            await response.aclose()
        mime = sniff_mime(body)
        if mime is None:
            raise invalid(field, "content is empty" if not body else "content type is not recognised")
        return Fetched(url=str(current), body=body, mime_type=mime)
    raise invalid(field, f"redirected more than {policy.max_redirects} times")


def _checked_url(raw: str | httpx.URL, policy: FetchPolicy, field: str, *, what: str) -> httpx.URL:
    try:
        url = httpx.URL(raw)
    except httpx.InvalidURL as exc:
        raise invalid(field, f"{what} is not a valid URL") from exc
    schemes = sorted(policy.allowed_schemes & _SUPPORTED_SCHEMES)
    if not url.scheme:
        raise invalid(field, f"{what} has no scheme", allowed=schemes)
    if url.scheme not in schemes:
        raise invalid(field, f"{what} scheme {url.scheme!r} is not allowed", allowed=schemes)
    if not url.host:
        raise invalid(field, f"{what} has no host")
    if url.userinfo:
        raise invalid(field, f"{what} must not contain credentials")
    return url.copy_with(fragment=None)


def _join(base: httpx.URL, location: str, field: str) -> httpx.URL:
    try:
        return base.join(location)
    except httpx.InvalidURL as exc:
        raise invalid(field, "redirect target is not a valid URL") from exc


async def _vetted_ips(
    url: httpx.URL, policy: FetchPolicy, resolver: Resolver, field: str, *, what: str
) -> list[str]:
    """All addresses of ``url``'s host, each permitted by ``policy``; the check precedes any connect."""
    host = url.raw_host.decode("ascii")
    try:
        ips = [str(ipaddress.ip_address(url.host))]
    except ValueError:
        try:
            ips = await resolver.resolve(host, default_port(url))
        except OSError as exc:
            raise invalid(field, f"{what} host could not be resolved") from exc
    if not ips:
        raise invalid(field, f"{what} host could not be resolved")
    if not all(policy.permits(ip) for ip in ips):
        # The address itself is not echoed: it would let a caller map internal DNS.
        raise invalid(field, f"{what} host is not a public internet address")
    return ips


async def _send(
    url: httpx.URL, ips: list[str], policy: FetchPolicy, field: str, transport: httpx.AsyncBaseTransport
) -> httpx.Response:
    """Open a GET to the first vetted address that accepts a connection, as ``url``'s host."""
    headers = {
        "Host": url.netloc.decode("ascii"),
        "Accept-Encoding": "identity",  # compressed bodies would dodge the size cap until decoded
        "User-Agent": "imagine-gateway",
    }
    extensions: dict[str, object] = {"timeout": httpx.Timeout(policy.timeout_s).as_dict()}
    if url.scheme == "https" and not is_ip_literal(url.host):
        extensions["sni_hostname"] = url.raw_host.decode("ascii")
    failure: Exception | None = None
    for ip in ips:
        request = httpx.Request("GET", url.copy_with(host=ip), headers=headers, extensions=extensions)
        try:
            return await transport.handle_async_request(request)
        except httpx.ConnectError as exc:
            failure = exc  # try the host's next address, as any client would
        except httpx.TimeoutException as exc:
            raise invalid(field, f"timed out after {policy.timeout_s} s") from exc
        except httpx.HTTPError as exc:
            raise invalid(field, "could not be fetched: the connection failed") from exc
    raise invalid(field, "could not be fetched: the connection failed") from failure


async def _read_capped(response: httpx.Response, policy: FetchPolicy, field: str) -> bytes:
    too_large = f"is larger than {policy.max_bytes} bytes"
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise invalid(field, f"was served with Content-Encoding {encoding!r}, which is not accepted")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise invalid(field, too_large, allowed=f"at most {policy.max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_raw():
            size += len(chunk)
            if size > policy.max_bytes:
                raise invalid(field, too_large, allowed=f"at most {policy.max_bytes} bytes")
            chunks.append(chunk)
    except httpx.TimeoutException as exc:
        raise invalid(field, f"timed out after {policy.timeout_s} s") from exc
    except httpx.HTTPError as exc:
        raise invalid(field, "could not be fetched: the connection broke off") from exc
    return b"".join(chunks)
