"""One Idempotency-Key sent by many requests at once makes one task on PostgreSQL too (writes there
run concurrently: the claim's single statement waits for the first and then changes nothing)."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import Gateway
from tests.idempotency import assert_20_concurrent_creates_with_one_idempotency_key_make_one_task


def test_concurrent_requests_with_one_idempotency_key_make_one_task_on_postgres(
    pg_url: str, gateway_factory: Callable[..., Gateway]
) -> None:
    gateway = gateway_factory(database_url=pg_url, sandbox_latency_s=60)
    assert_20_concurrent_creates_with_one_idempotency_key_make_one_task(gateway)
