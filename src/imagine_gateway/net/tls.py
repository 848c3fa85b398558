"""The TLS settings of the gateway's outbound httpx clients, built once per process.

Building a client context loads the whole CA bundle, which costs tens of milliseconds of CPU: as
much as the rest of a gateway's start, and as much as a small reference fetch. One context serves
every client of the process (an ``ssl.SSLContext`` may be shared between connections and threads),
with the same trust as httpx's default: ``SSL_CERT_FILE`` or ``SSL_CERT_DIR`` when set (read once,
like every other setting), certifi's bundle otherwise.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def client_ssl_context() -> ssl.SSLContext:
    """The context every outbound httpx transport of this process verifies servers with."""
    return httpx.create_ssl_context()


def http_transport(*, retries: int = 0) -> httpx.AsyncHTTPTransport:
    """An httpx transport with the shared TLS context (no retries: callers decide what to retry)."""
    return httpx.AsyncHTTPTransport(retries=retries, verify=client_ssl_context())
