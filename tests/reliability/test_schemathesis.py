"""Schemathesis over the gateway's own OpenAPI document: generated requests to every operation, a
bounded number each, and not one server error or answer that breaks the document's schemas."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from tests.conftest import Gateway, start_gateway

EXAMPLES_PER_OPERATION = 5


@pytest.fixture(scope="module")
def fuzzed_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gateway = start_gateway(tmp_path_factory.mktemp("schemathesis"), sync_wait_timeout_s=5)
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def auth_headers(fuzzed_gateway: Gateway) -> dict[str, str]:
    return fuzzed_gateway.key(credits=1_000_000, rate_limit="1000000/minute").headers


@pytest.fixture(scope="module")
def api_schema(fuzzed_gateway: Gateway) -> Any:
    return schemathesis.openapi.from_url(fuzzed_gateway.base_url + "/api/v1/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_a_server_error_or_breaks_its_schema(
    case: Any, fuzzed_gateway: Gateway, auth_headers: dict[str, str]
) -> None:
    response = case.call(base_url=fuzzed_gateway.base_url, headers=auth_headers, timeout=30)
    case.validate_response(
        response, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
    )
