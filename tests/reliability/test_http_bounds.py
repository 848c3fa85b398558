"""Denial of service at the HTTP layer of `imagine serve`: request heads are bounded in size and in
time, and one client sending a huge head does not hold up anyone else."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.reliability.conftest import Scenario
from tests.reliability.served import Served, imagine_serve

HEAD_TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home: Path = tmp_path_factory.mktemp("bounds") / "home"
    with imagine_serve(home, IMAGINE_HEADER_TIMEOUT_S=str(HEAD_TIMEOUT_S)) as running:
        yield running


def read_all(conn: socket.socket, timeout_s: float) -> bytes:
    conn.settimeout(timeout_s)
    received = b""
    try:
        while chunk := conn.recv(65536):
            received += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return received


def test_a_64_mib_header_is_refused_quickly_while_other_requests_are_served(served: Served) -> None:
    outcome: dict[str, object] = {}

    def send_huge_header() -> None:
        started = time.monotonic()
        with socket.create_connection(served.address, timeout=10) as conn:
            sent = 0
            try:
                conn.sendall(b"GET /api/v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ")
                chunk = b"a" * 65536
                while sent < 64 * 1024 * 1024:
                    conn.sendall(chunk)
                    sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            outcome["answer"] = read_all(conn, 5)
        outcome["sent"] = sent
        outcome["seconds"] = time.monotonic() - started

    attacker = threading.Thread(target=send_huge_header)
    latencies = []
    with httpx.Client(base_url=served.base_url, timeout=10) as client:
        attacker.start()
        while attacker.is_alive() or len(latencies) < 20:
            started = time.monotonic()
            assert client.get("/api/v1/models").status_code == 200
            latencies.append(time.monotonic() - started)
    attacker.join()

    answer = outcome["answer"]
    assert isinstance(answer, bytes)
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), answer[:200]
    assert b'"code":"headers_too_large"' in answer.replace(b" ", b"")
    assert outcome["sent"] < 64 * 1024 * 1024  # cut off long before the end
    assert outcome["seconds"] < 5
    assert max(latencies) < 1.0, latencies
    Scenario("A 64 MiB request header against a real imagine serve, other clients served meanwhile").record(
        tries=1,
        unit="attack",
        answered="431 headers_too_large",
        refused_within_ms=round(float(str(outcome["seconds"])) * 1000),
        other_requests=len(latencies),
        slowest_other_ms=round(max(latencies) * 1000),
    )


def test_a_head_just_under_the_limit_is_served(served: Served) -> None:
    response = httpx.get(served.base_url + "/api/v1/models", headers={"X-Pad": "a" * 60_000}, timeout=10)
    assert response.status_code == 200


def test_a_head_that_never_completes_is_timed_out_with_408(served: Served) -> None:
    with socket.create_connection(served.address, timeout=10) as conn:
        started = time.monotonic()
        conn.sendall(b"GET /api/v1/models HTTP/1.1\r\nHost: x\r\nX-Slow: a")
        answer = read_all(conn, HEAD_TIMEOUT_S + 5)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer[:200]
    assert HEAD_TIMEOUT_S - 0.5 <= waited < HEAD_TIMEOUT_S + 3


def test_a_connection_that_sends_nothing_is_closed_after_the_head_timeout(served: Served) -> None:
    with socket.create_connection(served.address, timeout=10) as conn:
        started = time.monotonic()
        answer = read_all(conn, HEAD_TIMEOUT_S + 5)
        waited = time.monotonic() - started
    assert answer == b""
    assert waited < HEAD_TIMEOUT_S + 3


def test_a_kept_alive_connection_serves_request_after_request(served: Served) -> None:
    with httpx.Client(base_url=served.base_url, timeout=10) as client:
        statuses = [client.get("/api/v1/models").status_code for _ in range(50)]
        big = client.post(
            "/api/v1/generations", content=b"x" * 500_000, headers={"Content-Type": "application/json"}
        )
    assert statuses == [200] * 50
    assert big.status_code == 401  # a large body after a small head is not a large head
