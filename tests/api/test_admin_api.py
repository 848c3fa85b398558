"""The admin API: only the operator's key, accounts, keys, retry-safe top-ups and the audit log."""

from __future__ import annotations

from typing import Any

import pytest

from tests.budgets import VIDEO, admin_key, ledger_facts
from tests.conftest import Gateway, Key
from tests.matchers import ISO, REQUEST_ID, Matches, error_body

ADMIN_ROUTES = [
    ("POST", "/api/v1/admin/accounts"),
    ("GET", "/api/v1/admin/accounts"),
    ("GET", "/api/v1/admin/accounts/acct_x"),
    ("POST", "/api/v1/admin/accounts/acct_x/disable"),
    ("POST", "/api/v1/admin/accounts/acct_x/enable"),
    ("POST", "/api/v1/admin/accounts/acct_x/keys"),
    ("GET", "/api/v1/admin/accounts/acct_x/keys"),
    ("PATCH", "/api/v1/admin/keys/key_x"),
    ("POST", "/api/v1/admin/keys/key_x/revoke"),
    ("POST", "/api/v1/admin/keys/key_x/rotate"),
    ("POST", "/api/v1/admin/accounts/acct_x/topups"),
    ("POST", "/api/v1/admin/accounts/acct_x/adjustments"),
    ("GET", "/api/v1/admin/audit"),
    ("GET", "/api/v1/admin/generations"),
    ("GET", "/api/v1/admin/generations/task_x"),
    ("GET", "/api/v1/admin/reports/margin"),
]
ACCOUNT_ID = Matches(r"acct_[A-Za-z0-9_-]{20}")
KEY_ID = Matches(r"key_[A-Za-z0-9_-]{20}")


def _account(gateway: Gateway, admin: Key, name: str = "shop") -> dict[str, Any]:
    made = gateway.http.post("/api/v1/admin/accounts", headers=admin.headers, json={"name": name})
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


def _topup(gateway: Gateway, admin: Key, account_id: str, key: str, **body: Any) -> Any:
    return gateway.http.post(
        f"/api/v1/admin/accounts/{account_id}/topups",
        headers={**admin.headers, "Idempotency-Key": key},
        json=body,
    )


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_admin_routes_refuse_a_customer_key_and_no_key(gateway: Gateway, method: str, path: str) -> None:
    customer = gateway.key(credits=10)  # every default scope, never admin
    with_key = gateway.http.request(method, path, headers=customer.headers, json={})
    without = gateway.http.request(method, path, json={})
    assert (with_key.status_code, with_key.json()) == (
        403,
        error_body("api_scope_denied", "This API key lacks the scope 'admin'."),
    )
    assert (without.status_code, without.json()) == (
        401,
        error_body("api_key_missing", "A valid Bearer API key is required."),
    )


def test_an_account_is_created_read_listed_and_its_keys_refused_while_disabled(gateway: Gateway) -> None:
    admin = admin_key(gateway)
    account = _account(gateway, admin)
    assert account == {
        "id": ACCOUNT_ID,
        "object": "account",
        "name": "shop",
        "status": "active",
        "balance": 0,
        "reserved": 0,
        "created_at": ISO,
        "disabled_at": None,
    }
    customer = gateway.key(credits=50, account=account["id"])
    assert gateway.http.get(f"/api/v1/admin/accounts/{account['id']}", headers=admin.headers).json() == {
        **account,
        "balance": 50,
    }
    listed = gateway.http.get("/api/v1/admin/accounts?limit=1", headers=admin.headers).json()
    assert (len(listed["data"]), listed["has_more"]) == (1, True)
    rest = gateway.http.get(
        f"/api/v1/admin/accounts?limit=5&cursor={listed['next_cursor']}", headers=admin.headers
    ).json()
    ids = {a["id"] for a in listed["data"] + rest["data"]}
    assert account["id"] in ids and admin.account_id in ids and rest["has_more"] is False

    disabled = gateway.http.post(f"/api/v1/admin/accounts/{account['id']}/disable", headers=admin.headers)
    refused = gateway.http.get("/api/v1/credits", headers=customer.headers)
    create = gateway.http.post("/api/v1/generations", headers=customer.headers, json=VIDEO)
    xai = gateway.http.post("/v1/videos/generations", headers=customer.headers, json=VIDEO)
    enabled = gateway.http.post(f"/api/v1/admin/accounts/{account['id']}/enable", headers=admin.headers)
    again = gateway.http.get("/api/v1/credits", headers=customer.headers)

    assert (disabled.json()["status"], disabled.json()["disabled_at"]) == ("disabled", ISO)
    body = error_body("account_disabled", "The account of this API key is disabled; contact the operator.")
    assert (refused.status_code, refused.json(), create.status_code, create.json()) == (403, body, 403, body)
    assert (xai.status_code, xai.json()["error"]["code"], xai.json()["error"]["type"]) == (
        403,
        "account_disabled",
        "permission_error",
    )
    assert (enabled.json()["status"], again.status_code, again.json()["balance"]) == ("active", 200, 50)


def test_keys_are_made_with_scopes_limits_and_models_patched_rotated_and_revoked(gateway: Gateway) -> None:
    admin = admin_key(gateway)
    account = _account(gateway, admin)
    made = gateway.http.post(
        f"/api/v1/admin/accounts/{account['id']}/keys",
        headers=admin.headers,
        json={
            "name": "reseller",
            "scopes": ["generations:create", "generations:read"],
            "limits": {"daily": 100},
            "models": ["grok-imagine-video"],
        },
    )
    assert made.status_code == 201
    view = made.json()
    secret = view.pop("secret")
    assert view == {
        "id": KEY_ID,
        "object": "api_key",
        "account_id": account["id"],
        "name": "reseller",
        "prefix": secret[:19],
        "scopes": ["generations:create", "generations:read"],
        "limits": {"total": None, "daily": 100, "monthly": None},
        "models": ["grok-imagine-video"],
        "spent": {"total": 0, "daily": 0, "monthly": 0},
        "created_at": ISO,
        "expires_at": None,
        "revoked_at": None,
        "last_used_at": None,
    }
    listed = gateway.http.get(f"/api/v1/admin/accounts/{account['id']}/keys", headers=admin.headers).json()
    assert listed == {"object": "list", "data": [view], "has_more": False, "next_cursor": None}

    patched = gateway.http.patch(
        f"/api/v1/admin/keys/{view['id']}",
        headers=admin.headers,
        json={"limits": {"total": 500}, "models": None, "name": "reseller-2"},
    ).json()
    assert (patched["name"], patched["limits"], patched["models"]) == (
        "reseller-2",
        {"total": 500, "daily": 100, "monthly": None},
        None,
    )

    rotated = gateway.http.post(f"/api/v1/admin/keys/{view['id']}/rotate", headers=admin.headers).json()
    old = gateway.http.get("/api/v1/generations", headers={"Authorization": f"Bearer {secret}"})
    new = gateway.http.get("/api/v1/generations", headers={"Authorization": f"Bearer {rotated['secret']}"})
    assert (rotated["id"], rotated["prefix"], old.status_code, new.status_code) == (
        view["id"],
        rotated["secret"][:19],
        401,
        200,
    )

    revoked = gateway.http.post(f"/api/v1/admin/keys/{view['id']}/revoke", headers=admin.headers).json()
    after = gateway.http.get("/api/v1/generations", headers={"Authorization": f"Bearer {rotated['secret']}"})
    assert (revoked["revoked_at"], after.status_code, after.json()["error"]["code"]) == (
        ISO,
        401,
        "api_key_revoked",
    )


def test_a_key_body_with_an_unknown_scope_model_or_limit_is_refused_and_makes_nothing(
    gateway: Gateway,
) -> None:
    admin = admin_key(gateway)
    account = _account(gateway, admin)
    path = f"/api/v1/admin/accounts/{account['id']}/keys"
    bad_scope = gateway.http.post(path, headers=admin.headers, json={"scopes": ["everything"]})
    bad_model = gateway.http.post(path, headers=admin.headers, json={"models": ["no-such-model"]})
    bad_limit = gateway.http.post(path, headers=admin.headers, json={"limits": {"daily": -1}})
    assert [
        (r.status_code, r.json()["error"]["details"][0]["field"]) for r in (bad_scope, bad_model, bad_limit)
    ] == [
        (400, "scopes"),
        (400, "models"),
        (400, "limits.daily"),
    ]
    assert gateway.http.get(path, headers=admin.headers).json()["data"] == []


def test_a_top_up_retried_with_one_idempotency_key_credits_once(gateway: Gateway) -> None:
    admin = admin_key(gateway)
    account = _account(gateway, admin)
    body = {"credits": 500, "reference": "pi_3Nx", "note": "December"}

    first = _topup(gateway, admin, account["id"], "evt_1", **body)
    retry = _topup(gateway, admin, account["id"], "evt_1", **body)
    other_body = _topup(gateway, admin, account["id"], "evt_1", **{**body, "credits": 900})
    same_payment = _topup(gateway, admin, account["id"], "evt_2", **body)

    assert first.status_code == 201
    assert first.json() == {
        "object": "topup",
        "entry": {
            "id": first.json()["entry"]["id"],
            "object": "ledger_entry",
            "kind": "topup",
            "amount": 500,
            "reserved_delta": 0,
            "balance_after": 500,
            "task_id": None,
            "model": None,
            "api_key_id": None,
            "note": "December",
            "reference": "pi_3Nx",
            "created_at": ISO,
        },
        "account": {**account, "balance": 500},
    }
    assert (retry.status_code, retry.json(), retry.headers["idempotent-replayed"]) == (
        201,
        first.json(),
        "true",
    )
    assert (other_body.status_code, other_body.json()["error"]["code"]) == (409, "idempotency_conflict")
    assert (same_payment.status_code, same_payment.json()["error"]["code"]) == (409, "idempotency_conflict")
    assert ledger_facts(gateway, account["id"]) == {
        "balance": 500,
        "reserved": 0,
        "ledger_sums": (500, 0),
        "tasks": 0,
        "kinds": {"topup": 1},
    }


def test_an_adjustment_needs_a_reason_and_never_takes_the_balance_below_zero(gateway: Gateway) -> None:
    admin = admin_key(gateway)
    account = _account(gateway, admin)
    _topup(gateway, admin, account["id"], "t1", credits=20)
    path = f"/api/v1/admin/accounts/{account['id']}/adjustments"

    no_reason = gateway.http.post(
        path, headers={**admin.headers, "Idempotency-Key": "a0"}, json={"credits": -5}
    )
    no_key = gateway.http.post(path, headers=admin.headers, json={"credits": -5, "reason": "goodwill"})
    too_much = gateway.http.post(
        path,
        headers={**admin.headers, "Idempotency-Key": "a1"},
        json={"credits": -25, "reason": "chargeback"},
    )
    taken = gateway.http.post(
        path, headers={**admin.headers, "Idempotency-Key": "a2"}, json={"credits": -5, "reason": "chargeback"}
    )

    assert [(r.status_code, r.json()["error"]["code"]) for r in (no_reason, no_key, too_much)] == [
        (400, "validation_failed"),
        (400, "validation_failed"),
        (402, "insufficient_credits"),
    ]
    assert (taken.status_code, taken.json()["entry"]["kind"], taken.json()["entry"]["note"]) == (
        201,
        "adjust",
        "chargeback",
    )
    assert ledger_facts(gateway, account["id"])["ledger_sums"] == (15, 0)


def test_every_admin_action_leaves_an_audit_row_naming_the_admin_key_and_the_target(gateway: Gateway) -> None:
    admin = admin_key(gateway)
    account = _account(gateway, admin)
    key = gateway.http.post(
        f"/api/v1/admin/accounts/{account['id']}/keys", headers=admin.headers, json={"name": "k"}
    ).json()
    actions = [
        ("POST", f"/api/v1/admin/accounts/{account['id']}/disable", None),
        ("POST", f"/api/v1/admin/accounts/{account['id']}/enable", None),
        ("PATCH", f"/api/v1/admin/keys/{key['id']}", {"limits": {"daily": 5}}),
        ("POST", f"/api/v1/admin/keys/{key['id']}/rotate", None),
        ("POST", f"/api/v1/admin/keys/{key['id']}/revoke", None),
    ]
    for method, path, body in actions:
        assert gateway.http.request(method, path, headers=admin.headers, json=body).status_code == 200
    _topup(gateway, admin, account["id"], "evt_a", credits=7, reference="pay_a")

    audit = gateway.http.get(f"/api/v1/admin/audit?account_id={account['id']}", headers=admin.headers).json()

    row = {"object": "audit_entry", "created_at": ISO, "actor": admin.key_id, "request_id": REQUEST_ID}
    assert [
        {k: r[k] for k in ("id", "object", "created_at", "actor", "request_id")} | {"id": 0}
        for r in audit["data"]
    ] == [{**row, "id": 0}] * 8
    assert [(r["action"], r["target"], r["account_id"]) for r in audit["data"]] == [
        ("credits.topup", {"type": "account", "id": account["id"]}, account["id"]),
        ("key.revoke", {"type": "key", "id": key["id"]}, account["id"]),
        ("key.rotate", {"type": "key", "id": key["id"]}, account["id"]),
        ("key.update", {"type": "key", "id": key["id"]}, account["id"]),
        ("account.enable", {"type": "account", "id": account["id"]}, account["id"]),
        ("account.disable", {"type": "account", "id": account["id"]}, account["id"]),
        ("key.create", {"type": "key", "id": key["id"]}, account["id"]),
        ("account.create", {"type": "account", "id": account["id"]}, account["id"]),
    ]
    assert audit["data"][0]["details"]["reference"] == "pay_a"
    assert audit["data"][3]["details"] == {"limit_total": None, "limit_daily": 5, "limit_monthly": None}


def test_every_change_of_a_key_or_account_passes_through_the_accounts_services_one_hook(
    gateway: Gateway,
) -> None:
    seen: list[tuple[str, str | None]] = []
    gateway.ctx.accounts.on_change(lambda account_id, key_id: seen.append((account_id, key_id)))
    admin = admin_key(gateway)
    account = _account(gateway, admin)
    key = gateway.http.post(
        f"/api/v1/admin/accounts/{account['id']}/keys", headers=admin.headers, json={"name": "k"}
    ).json()
    owner = Key(key["secret"], account["id"], key["id"])
    child = gateway.http.post("/api/v1/keys", headers=owner.headers, json={"name": "child"}).json()

    gateway.http.post(f"/api/v1/admin/accounts/{account['id']}/disable", headers=admin.headers)
    gateway.http.post(f"/api/v1/admin/accounts/{account['id']}/enable", headers=admin.headers)
    gateway.http.patch(
        f"/api/v1/admin/keys/{key['id']}", headers=admin.headers, json={"models": ["grok-imagine"]}
    )
    gateway.http.post(f"/api/v1/keys/{child['id']}/revoke", headers=owner.headers)
    gateway.http.post(f"/api/v1/admin/keys/{key['id']}/rotate", headers=admin.headers)
    gateway.http.post(f"/api/v1/admin/keys/{key['id']}/revoke", headers=admin.headers)

    assert seen == [
        (account["id"], None),
        (account["id"], None),
        (account["id"], key["id"]),
        (account["id"], child["id"]),
        (account["id"], key["id"]),
        (account["id"], key["id"]),
    ]
