"""Gateways and mock upstreams for the operations tests (the providers' fixtures, shared)."""

from tests.providers.conftest import small_video, upstream, xai_gateway

__all__ = ["small_video", "upstream", "xai_gateway"]
