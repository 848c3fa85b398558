"""Fixtures for the reliability suite: real `imagine serve` processes, and PostgreSQL where marked."""

from __future__ import annotations

from tests.scaleout.conftest import pg_url, redis_url

__all__ = ["pg_url", "redis_url"]
