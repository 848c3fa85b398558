"""The web console is served by the gateway, whole, from the package (no CDN, no build step)."""

from __future__ import annotations

import re

from imagine_gateway.api.console_routes import STATIC_DIR
from imagine_gateway.core.states import PUBLIC_STATUSES
from imagine_gateway.delivery.webhooks import EVENT_TYPES
from tests.conftest import Gateway

IMPORT = re.compile(r"""(?:from\s+|import\()\s*["'](\./[\w-]+\.js)["']""")


def test_the_page_loads_its_entry_module_under_a_policy_that_allows_only_the_gateways_own_scripts(
    live: Gateway,
) -> None:
    page = live.http.get("/console")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/console/static/app.js"></script>' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert page.headers["referrer-policy"] == "no-referrer"
    assert not re.search(r"(src|href)=\"https?://", page.text)  # nothing from another host
    assert live.http.get("/", follow_redirects=False).headers["location"] == "/console"


def test_every_module_the_console_imports_is_served_as_javascript(live: Gateway) -> None:
    names = sorted(p.name for p in STATIC_DIR.glob("*.js"))
    imported = set()
    for name in names:
        response = live.http.get(f"/console/static/{name}")
        assert (response.status_code, response.headers["content-type"].split(";")[0]) == (
            200,
            "text/javascript",
        )
        assert response.headers["cache-control"] == "no-cache"
        imported |= {m.removeprefix("./") for m in IMPORT.findall(response.text)}
        assert "https://" not in response.text.replace("https://example.com", "")
    assert imported <= set(names)
    assert set(names) - imported == {"app.js"}  # every module is reachable from the entry point


def test_meta_gives_the_statuses_roles_scopes_and_event_types_the_forms_offer(live: Gateway) -> None:
    meta = live.http.get("/console/meta.json").json()
    assert meta["statuses"] == list(PUBLIC_STATUSES)
    assert meta["webhook_event_types"] == list(EVENT_TYPES)
    assert meta["role_kinds"]["first_frame"] == "image" and meta["role_kinds"]["edit"] == "video"
    assert set(meta["role_kinds"]) == set(meta["roles"])
    assert "generations:create" in meta["scopes"]
