"""One version, read by the SDK without importing the package root (no import cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

import httpx

import imagine_gateway
from imagine_gateway import Client, _version

CLIENT = Path(imagine_gateway.__file__).parent / "client"


def test_the_package_version_is_the_one_in_its_version_module() -> None:
    assert imagine_gateway.__version__ == _version.__version__ == "0.1.0"


def test_no_sdk_module_imports_the_package_root() -> None:
    importers = {
        path.name
        for path in CLIENT.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module == "imagine_gateway"
    }
    assert importers == set()


def test_every_request_carries_the_version_in_its_user_agent() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["user-agent"])
        return httpx.Response(200, json={"object": "list", "data": []})

    with Client(base_url="http://gateway.test", transport=httpx.MockTransport(answer)) as client:
        assert client.models.list() == []
    assert seen == [f"imagine-gateway-python/{imagine_gateway.__version__}"]
