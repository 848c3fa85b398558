"""One gateway per test module: Files API tests use a fresh account each, so they can share it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Gateway, start_gateway


@pytest.fixture(scope="module")
def shared_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway (SQLite + local storage + sandbox worker) on loopback for the whole module."""
    gateway = start_gateway(tmp_path_factory.mktemp("files") / "home")
    yield gateway
    gateway.stop()
