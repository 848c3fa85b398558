"""A NUL character cannot be stored in PostgreSQL text: it is refused the same way on both
databases, before anything is written, wherever a client can send one."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import Gateway
from tests.matchers import error_body

NUL_ISSUE = "must not contain the NUL character (U+0000)"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_database(request: pytest.FixtureRequest, gateway_factory: Callable[..., Gateway]) -> Gateway:
    if request.param == "sqlite":
        return gateway_factory()
    return gateway_factory(database_url=request.getfixturevalue("pg_url"))


def test_a_nul_in_a_prompt_is_refused_and_nothing_is_stored(any_database: Gateway) -> None:
    gateway = any_database
    key = gateway.key(credits=50)
    response = gateway.http.post(
        "/api/v1/generations", headers=key.headers, json={"model": "grok-imagine", "prompt": "a\x00b"}
    )
    assert response.status_code == 400
    assert response.json() == error_body(
        "validation_failed", f"prompt: {NUL_ISSUE}", [{"field": "prompt", "issue": NUL_ISSUE}]
    )
    assert gateway.http.get("/api/v1/credits", headers=key.headers).json()["balance"] == 50
    assert gateway.http.get("/api/v1/generations", headers=key.headers).json()["data"] == []


def test_a_nul_in_a_form_field_is_refused(any_database: Gateway) -> None:
    gateway = any_database
    key = gateway.key(credits=50)
    # multipart/form-data, as the OpenAI SDK sends it: fields without a file name are text fields
    fields = {"prompt": (None, "a\x00b"), "seconds": (None, "6")}
    response = gateway.http.post("/v1/videos", headers=key.headers, files=fields)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"], error["message"]) == (
        "validation_failed",
        "prompt",
        f"prompt: {NUL_ISSUE}",
    )
    assert gateway.http.get("/api/v1/generations", headers=key.headers).json()["data"] == []


def test_a_nul_in_a_looked_up_id_is_refused(any_database: Gateway) -> None:
    gateway = any_database
    key = gateway.key(credits=50)
    response = gateway.http.get("/api/v1/generations/task_%00", headers=key.headers)
    issue = "must not contain the NUL character (%00)"
    assert response.status_code == 400
    assert response.json() == error_body(
        "validation_failed", f"path: {issue}", [{"field": "path", "issue": issue}]
    )
