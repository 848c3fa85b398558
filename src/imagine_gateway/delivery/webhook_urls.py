"""Which webhook URLs are acceptable: https, no credentials, and only public addresses.

Checked when an endpoint (or a task's ``webhook_url``) is given, and again before every delivery, so
a later DNS change cannot aim a webhook inward.
"""

from __future__ import annotations

import httpx

from imagine_gateway.core.errors import FieldError, WebhookUrlRejected
from imagine_gateway.net import Resolver, SystemResolver, default_port, is_ip_literal, is_public_ip

_LOCAL_NAMES = ("localhost", "localhost.localdomain")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa")


def _rejected(issue: str, field_name: str = "url") -> WebhookUrlRejected:
    return WebhookUrlRejected(f"{field_name}: {issue}", [FieldError(field_name, issue)])


def check_url_shape(raw: str, *, allow_private: bool, field_name: str = "url") -> httpx.URL:
    """Reject what can be judged without DNS: scheme, credentials, fragment, local host names and
    non-public IP literals. ``allow_private`` (tests, closed networks) also admits ``http``."""
    try:
        url = httpx.URL(raw)
    except (httpx.InvalidURL, TypeError) as exc:
        raise _rejected("is not a valid URL", field_name) from exc
    allowed = ("https", "http") if allow_private else ("https",)
    if url.scheme not in allowed:
        raise WebhookUrlRejected(
            f"{field_name}: must use https", [FieldError(field_name, "must use https", list(allowed))]
        )
    if not url.host:
        raise _rejected("has no host", field_name)
    if url.userinfo:
        raise _rejected("must not contain credentials", field_name)
    if url.fragment:
        raise _rejected("must not contain a fragment", field_name)
    if len(raw) > 2000:
        raise _rejected("is longer than 2000 characters", field_name)
    if allow_private:
        return url
    host = url.host.lower().rstrip(".")
    if host in _LOCAL_NAMES or host.endswith(_LOCAL_SUFFIXES):
        raise _rejected("must not point at a local host name", field_name)
    if is_ip_literal(host) and not is_public_ip(host):
        raise _rejected("must not point at a private, loopback or reserved address", field_name)
    return url


async def check_webhook_url(
    raw: str, *, allow_private: bool, resolver: Resolver | None = None, field_name: str = "url"
) -> str:
    """``raw`` if it is an acceptable webhook target, else ``WebhookUrlRejected`` (HTTP 400).

    Beyond :func:`check_url_shape`, a host name must resolve, and only to public addresses.
    The same check runs again before every delivery, so a later DNS change cannot aim it inward.
    """
    url = check_url_shape(raw, allow_private=allow_private, field_name=field_name)
    if not allow_private:
        await public_addresses(url, resolver or SystemResolver(), field_name)
    return raw


async def public_addresses(url: httpx.URL, resolver: Resolver, field_name: str = "url") -> list[str]:
    host = url.host
    if is_ip_literal(host):
        ips = [host]
    else:
        try:
            ips = await resolver.resolve(url.raw_host.decode("ascii"), default_port(url))
        except OSError as exc:
            raise _rejected("host could not be resolved", field_name) from exc
    if not ips:
        raise _rejected("host could not be resolved", field_name)
    if not all(is_public_ip(ip) for ip in ips):
        raise _rejected("host is not a public internet address", field_name)
    return ips
