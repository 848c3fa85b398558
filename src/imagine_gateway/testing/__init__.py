"""Test support shipped with the package: loopback servers and mock upstreams."""
