"""A customer's ledger, usage and own keys: exact sums, keyset pages, nothing of another account."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.budgets import VIDEO, admin_key, budgeted_key
from tests.conftest import Gateway, Key
from tests.matchers import ISO, error_body

IMAGE = {"model": "grok-imagine", "prompt": "a lighthouse"}  # 4 credits


def _run(gateway: Gateway, key: Key, body: dict[str, Any]) -> dict[str, Any]:
    created = gateway.http.post("/api/v1/generations", headers=key.headers, json=body)
    assert created.status_code == 202, created.text
    return gateway.wait_for(created.json()["id"], key)


def _whole_ledger(gateway: Gateway, key: Key, limit: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = gateway.http.get(f"/api/v1/credits/ledger{query}", headers=key.headers).json()
        rows += page["data"]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            return rows
        cursor = page["next_cursor"]


def test_the_ledger_lists_every_row_newest_first_with_its_task_in_keyset_pages(gateway: Gateway) -> None:
    key = gateway.key(credits=100)
    done = _run(gateway, key, VIDEO)
    image = _run(gateway, key, IMAGE)

    rows = _whole_ledger(gateway, key, limit=2)

    def row(kind: str, amount: int, delta: int, after: int, task: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "id": None,  # compared apart: ids only grow
            "object": "ledger_entry",
            "kind": kind,
            "amount": amount,
            "reserved_delta": delta,
            "balance_after": after,
            "task_id": task["id"] if task else None,
            "model": task["model"] if task else None,
            "api_key_id": key.key_id if task else None,
            "note": "imagine keys create" if task is None else None,
            "reference": None,
            "created_at": ISO,
        }

    assert [{**r, "id": None} for r in rows] == [
        row("capture", 0, -4, 86, image),
        row("reserve", -4, 4, 86, image),
        row("capture", 0, -10, 90, done),
        row("reserve", -10, 10, 90, done),
        row("topup", 100, 0, 100, None),
    ]
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)


def test_another_accounts_ledger_and_usage_are_never_visible(gateway: Gateway) -> None:
    mine = gateway.key(credits=100, name="mine")
    theirs = gateway.key(credits=50, name="theirs")
    _run(gateway, theirs, VIDEO)

    ledger = gateway.http.get("/api/v1/credits/ledger", headers=mine.headers).json()
    usage = gateway.http.get("/api/v1/usage?group_by=model", headers=mine.headers).json()

    assert [(r["kind"], r["amount"]) for r in ledger["data"]] == [("topup", 100)]
    assert (usage["data"], usage["total"]) == ([], {"tasks": 0, "credits": 0})
    their_cursor = gateway.http.get("/api/v1/credits/ledger?limit=1", headers=theirs.headers).json()
    below = gateway.http.get(
        f"/api/v1/credits/ledger?cursor={their_cursor['next_cursor']}", headers=mine.headers
    ).json()
    assert {r["task_id"] for r in below["data"]} <= {None}


def test_usage_sums_equal_the_ledgers_by_day_model_and_key(gateway: Gateway) -> None:
    key = gateway.key(credits=200, name="first")
    other = gateway.key(credits=0, name="second", account=key.account_id)
    _run(gateway, key, VIDEO)
    _run(gateway, key, IMAGE)
    _run(gateway, other, IMAGE)
    canceled = gateway.http.post("/api/v1/generations", headers=key.headers, json=VIDEO).json()
    gateway.http.post(f"/api/v1/generations/{canceled['id']}/cancel", headers=key.headers)
    today = datetime.now(UTC).date().isoformat()

    ledger = _whole_ledger(gateway, key, limit=100)
    spent = -sum(r["amount"] for r in ledger if r["task_id"] is not None)
    by = {
        g: gateway.http.get(f"/api/v1/usage?from={today}&to={today}&group_by={g}", headers=key.headers).json()
        for g in ("day", "model", "key")
    }

    assert spent == 18
    assert by["day"] == {
        "object": "usage",
        "from": today,
        "to": today,
        "group_by": "day",
        "data": [{"group": today, "tasks": 3, "credits": 18}],
        "total": {"tasks": 3, "credits": 18},
    }
    assert by["model"]["data"] == [
        {"group": "grok-imagine", "tasks": 2, "credits": 8},
        {"group": "grok-imagine-video", "tasks": 1, "credits": 10},
    ]
    assert sorted(by["key"]["data"], key=lambda r: r["credits"]) == [
        {"group": other.key_id, "tasks": 1, "credits": 4},
        {"group": key.key_id, "tasks": 2, "credits": 14},
    ]
    assert {g: b["total"] for g, b in by.items()} == {g: {"tasks": 3, "credits": spent} for g in by}


def test_usage_refuses_an_unknown_grouping_and_a_malformed_day(gateway: Gateway) -> None:
    key = gateway.key(credits=0)
    grouping = gateway.http.get("/api/v1/usage?group_by=color", headers=key.headers)
    day = gateway.http.get("/api/v1/usage?from=12/01/2026", headers=key.headers)
    assert (grouping.status_code, grouping.json()) == (
        400,
        error_body(
            "validation_failed",
            "group_by: unknown grouping 'color'",
            [{"field": "group_by", "issue": "unknown grouping 'color'", "allowed": ["day", "model", "key"]}],
        ),
    )
    assert (day.status_code, day.json()["error"]["details"][0]["field"]) == (400, "from")


def test_a_customer_makes_keys_with_at_most_its_own_scopes_and_never_admin(gateway: Gateway) -> None:
    maker = gateway.key(credits=10, scopes=["keys:manage", "generations:read", "credits:read"])
    made = gateway.http.post("/api/v1/keys", headers=maker.headers, json={"name": "ci"})
    wider = gateway.http.post(
        "/api/v1/keys", headers=maker.headers, json={"name": "x", "scopes": ["generations:create"]}
    )
    admin = gateway.http.post("/api/v1/keys", headers=maker.headers, json={"name": "x", "scopes": ["admin"]})

    assert made.status_code == 201
    assert (made.json()["scopes"], made.json()["account_id"], made.json()["secret"][:7]) == (
        ["generations:read", "credits:read", "keys:manage"],
        maker.account_id,
        "igw_sk_",
    )
    assert [(r.status_code, r.json()["error"]["code"]) for r in (wider, admin)] == [
        (403, "api_scope_denied"),
        (403, "api_scope_denied"),
    ]
    listed = gateway.http.get("/api/v1/keys", headers=maker.headers).json()["data"]
    assert [k["id"] for k in listed] == [maker.key_id, made.json()["id"]]
    assert all("secret" not in k for k in listed)


def test_a_customer_revokes_its_own_keys_only(gateway: Gateway) -> None:
    mine = gateway.key(credits=10)
    theirs = gateway.key(credits=10)
    child = gateway.http.post("/api/v1/keys", headers=mine.headers, json={"name": "child"}).json()

    foreign = gateway.http.post(f"/api/v1/keys/{theirs.key_id}/revoke", headers=mine.headers)
    own = gateway.http.post(f"/api/v1/keys/{child['id']}/revoke", headers=mine.headers)

    assert (foreign.status_code, foreign.json()) == (
        404,
        error_body("not_found", f"API key {theirs.key_id} does not exist."),
    )
    assert (own.status_code, own.json()["revoked_at"]) == (200, ISO)
    assert gateway.http.get("/api/v1/credits", headers=theirs.headers).status_code == 200
    child_key = {"Authorization": f"Bearer {child['secret']}"}
    assert gateway.http.get("/api/v1/credits", headers=child_key).json()["error"]["code"] == "api_key_revoked"


def test_a_key_with_a_cap_cannot_make_an_uncapped_key(gateway: Gateway) -> None:
    operator = admin_key(gateway)
    owner = gateway.key(credits=10)
    capped, _ = budgeted_key(gateway, operator, owner.account_id, limits={"daily": 5})
    refused = gateway.http.post("/api/v1/keys", headers=capped.headers, json={"name": "escape"})
    assert (refused.status_code, refused.json()) == (
        403,
        error_body("api_scope_denied", "A key with spend caps or a model allowlist cannot create keys."),
    )
