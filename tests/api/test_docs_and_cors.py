"""The API reference pages work with no network beyond the gateway; CORS is off unless configured."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from imagine_gateway.settings import Settings
from tests.conftest import Gateway
from tests.matchers import Matches

APP_ORIGIN = "https://app.example.com"
OTHER_ORIGIN = "https://elsewhere.example.net"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}
SWAGGER_UI_ASSETS = {
    "/docs/assets/swagger-ui.css",
    "/docs/assets/swagger-ui-bundle.js",
    "/docs/assets/favicon.png",
}
REDOC_ASSETS = {"/docs/assets/redoc.standalone.js", "/docs/assets/favicon.png"}


def _references(html: str) -> list[str]:
    """Every URL a page loads: src and href attributes, and the spec it points its viewer at."""
    found = re.findall(r'(?:src|href|spec-url)="([^"]+)"', html)
    found += re.findall(r"url: '([^']+)'", html)
    return found


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", SWAGGER_UI_ASSETS),
        ("/redoc", REDOC_ASSETS),
    ],
)
def test_a_docs_page_loads_only_assets_the_gateway_itself_serves(
    gateway: Gateway, page: str, assets: set[str]
) -> None:
    response = gateway.http.get(page)
    assert (response.status_code, response.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert "http://" not in response.text and "https://" not in response.text
    assert set(_references(response.text)) == assets | {"/api/v1/openapi.json"}
    for url in assets:
        served = gateway.http.get(url)
        assert served.status_code == 200, url
        assert len(served.content) > 1000, url
    assert gateway.http.get("/docs/assets/swagger-ui-bundle.js").headers["content-type"].startswith(
        "text/javascript"
    )
    assert gateway.http.get("/docs/assets/swagger-ui.css").headers["content-type"].startswith("text/css")


def test_the_spec_is_served_at_openapi_json_as_well_as_under_api_v1(gateway: Gateway) -> None:
    root = gateway.http.get("/openapi.json")
    versioned = gateway.http.get("/api/v1/openapi.json")
    assert (root.status_code, versioned.status_code) == (200, 200)
    assert root.headers["content-type"] == "application/json"
    assert root.json() == versioned.json()
    assert root.json()["info"] == {
        "title": "Imagine Gateway API",
        "version": "1",
        "description": Matches(r"Grok Imagine image and video generation.*"),
    }
    assert "/api/v1/generations" in root.json()["paths"]
    assert not {"/docs", "/redoc", "/openapi.json"} & root.json()["paths"].keys()


def test_without_configured_origins_no_cors_header_is_sent_and_a_preflight_is_not_answered(
    gateway: Gateway,
) -> None:
    plain = gateway.http.get("/api/v1/models", headers={"Origin": APP_ORIGIN})
    assert plain.status_code == 200
    assert [h for h in plain.headers if h.startswith("access-control-")] == []
    preflight = gateway.http.options("/api/v1/generations", headers={"Origin": APP_ORIGIN, **PREFLIGHT})
    assert preflight.status_code == 405
    assert preflight.json() == {
        "error": {
            "code": "method_not_allowed",
            "message": "OPTIONS is not allowed on /api/v1/generations.",
            "requestId": Matches(r"req_\w+"),
        }
    }
    assert [h for h in preflight.headers if h.startswith("access-control-")] == []


@pytest.fixture
def cors_gateway(gateway_factory: Callable[..., Gateway]) -> Gateway:
    return gateway_factory(cors_origins=[APP_ORIGIN])


def test_a_preflight_from_an_allowed_origin_is_answered(cors_gateway: Gateway) -> None:
    response = cors_gateway.http.options("/api/v1/generations", headers={"Origin": APP_ORIGIN, **PREFLIGHT})
    assert response.status_code == 200
    cors = {k: v for k, v in response.headers.items() if k.startswith("access-control-")}
    assert cors == {
        "access-control-allow-origin": APP_ORIGIN,
        "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
        "access-control-allow-headers": "authorization,content-type",
        "access-control-max-age": "600",
    }


def test_a_preflight_from_another_origin_is_refused(cors_gateway: Gateway) -> None:
    response = cors_gateway.http.options("/api/v1/generations", headers={"Origin": OTHER_ORIGIN, **PREFLIGHT})
    assert (response.status_code, response.text) == (400, "Disallowed CORS origin")
    assert "access-control-allow-origin" not in response.headers


def test_responses_to_an_allowed_origin_carry_cors_headers_errors_included(cors_gateway: Gateway) -> None:
    listed = cors_gateway.http.get("/api/v1/models", headers={"Origin": APP_ORIGIN})
    assert listed.status_code == 200
    assert listed.headers["access-control-allow-origin"] == APP_ORIGIN
    assert listed.headers["access-control-expose-headers"] == (
        "X-Request-Id, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, "
        "Idempotent-Replayed, Content-Range, Content-Disposition"
    )
    unauthorized = cors_gateway.http.get("/api/v1/generations", headers={"Origin": APP_ORIGIN})
    assert unauthorized.status_code == 401
    assert unauthorized.headers["access-control-allow-origin"] == APP_ORIGIN
    elsewhere = cors_gateway.http.get("/api/v1/models", headers={"Origin": OTHER_ORIGIN})
    assert elsewhere.status_code == 200
    assert "access-control-allow-origin" not in elsewhere.headers


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("", ()),
        ("https://app.example.com", ("https://app.example.com",)),
        ("https://a.example, https://b.example/", ("https://a.example", "https://b.example")),
        ('["https://a.example", "http://127.0.0.1:5173"]', ("https://a.example", "http://127.0.0.1:5173")),
        ("*", ("*",)),
    ],
)
def test_cors_origins_are_read_from_the_environment_as_a_list_or_json(
    monkeypatch: pytest.MonkeyPatch, value: str, origins: tuple[str, ...]
) -> None:
    monkeypatch.setenv("IMAGINE_CORS_ORIGINS", value)
    assert Settings().cors_origins == origins
