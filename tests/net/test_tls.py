"""The outbound TLS context: built once per process, verifying certificates and host names against
the CA bundle."""

from __future__ import annotations

import ssl

from imagine_gateway.net import client_ssl_context


def test_the_context_is_built_once_and_verifies_servers_against_the_ca_bundle() -> None:
    context = client_ssl_context()

    assert client_ssl_context() is context
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert context.cert_store_stats()["x509_ca"] > 0

