"""Outbound connections to addresses a client chose: the public-address check and the guarded fetch.

Reference-media URLs are fetched through ``fetch_guarded``; webhook endpoints are vetted with
``is_public_ip`` and a ``Resolver`` before every delivery. Both go out through ``http_transport``,
which shares one TLS context per process.
"""

from imagine_gateway.net.addresses import Resolver, SystemResolver, default_port, is_ip_literal, is_public_ip
from imagine_gateway.net.fetch import Fetched, FetchPolicy, fetch_guarded
from imagine_gateway.net.tls import client_ssl_context, http_transport

__all__ = [
    "FetchPolicy",
    "Fetched",
    "Resolver",
    "SystemResolver",
    "client_ssl_context",
    "default_port",
    "fetch_guarded",
    "http_transport",
    "is_ip_literal",
    "is_public_ip",
]
