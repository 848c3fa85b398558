"""The webhook endpoint API through the SDK, on a gateway that enforces the production URL rules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from imagine_gateway import Client, NotFoundError, PermissionDeniedError, ValidationError, WebhookEndpoint
from tests.conftest import Gateway, Key, start_gateway
from tests.matchers import ISO, Matches

PUBLIC_URL = "https://93.184.216.34/hooks/imagine"  # a public IP literal: no DNS needed to vet it
SECRET = Matches(r"whsec_[A-Za-z0-9+/=]{32}")


@pytest.fixture(scope="module")
def strict_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gateway = start_gateway(tmp_path_factory.mktemp("strict"))
    yield gateway
    gateway.http.close()
    gateway.server.stop()


@pytest.fixture
def key(strict_gateway: Gateway) -> Key:
    return strict_gateway.key()


@pytest.fixture
def client(strict_gateway: Gateway, key: Key) -> Iterator[Client]:
    with Client(base_url=strict_gateway.base_url, api_key=key.secret) as client:
        yield client


def test_create_shows_the_secret_once_then_only_its_preview(
    client: Client, strict_gateway: Gateway, key: Key
) -> None:
    created = client.webhooks.create(PUBLIC_URL, name="orders")
    secret = created.signing_secret or ""
    assert created.model_dump(mode="json") | {"created_at": "", "updated_at": ""} == {
        "id": Matches(r"whend_\S{20}"),
        "object": "webhook_endpoint",
        "name": "orders",
        "url": PUBLIC_URL,
        "event_types": ["generation.succeeded", "generation.failed"],
        "status": "active",
        "secret_preview": f"{secret[:8]}...{secret[-6:]}",
        "signing_secret": SECRET,
        "last_success_at": None,
        "last_failure_at": None,
        "failure_count": 0,
        "created_at": "",
        "updated_at": "",
        "disabled_at": None,
        "revoked_at": None,
    }
    raw = strict_gateway.http.get(f"/api/v1/webhooks/{created.id}", headers=key.headers).json()
    assert "signing_secret" not in raw and (raw["created_at"], raw["updated_at"]) == (ISO, ISO)
    assert client.webhooks.list() == [created.model_copy(update={"signing_secret": None})]


def test_update_rotate_and_delete(client: Client) -> None:
    created = client.webhooks.create(PUBLIC_URL)
    updated = client.webhooks.update(
        created.id, name="renamed", event_types=["generation.failed"], status="disabled"
    )
    assert (updated.name, updated.event_types, updated.status, updated.disabled_at is not None) == (
        "renamed",
        ["generation.failed"],
        "disabled",
        True,
    )
    assert client.webhooks.update(created.id, status="active").disabled_at is None

    rotated = client.webhooks.rotate_secret(created.id)
    assert rotated.signing_secret == SECRET and rotated.signing_secret != created.signing_secret
    assert rotated.secret_preview != created.secret_preview

    deleted = client.webhooks.delete(created.id)
    assert (deleted.status, deleted.revoked_at is not None) == ("revoked", True)
    assert client.webhooks.list() == []
    assert client.webhooks.retrieve(created.id).status == "revoked"
    with pytest.raises(NotFoundError):
        client.webhooks.update(created.id, name="again")


@pytest.mark.parametrize(
    ("url", "issue"),
    [
        ("http://93.184.216.34/hook", "must use https"),
        ("https://user:pw@93.184.216.34/hook", "must not contain credentials"),
        ("https://93.184.216.34/hook#part", "must not contain a fragment"),
        ("https://127.0.0.1/hook", "must not point at a private, loopback or reserved address"),
        ("https://10.1.2.3/hook", "must not point at a private, loopback or reserved address"),
        ("https://169.254.169.254/latest", "must not point at a private, loopback or reserved address"),
        ("https://[::1]/hook", "must not point at a private, loopback or reserved address"),
        ("https://localhost/hook", "must not point at a local host name"),
        ("https://printer.local/hook", "must not point at a local host name"),
    ],
)
def test_unsafe_urls_are_rejected_with_webhook_url_rejected(client: Client, url: str, issue: str) -> None:
    with pytest.raises(ValidationError) as caught:
        client.webhooks.create(url)
    assert (caught.value.code, caught.value.status_code, caught.value.details) == (
        "webhook_url_rejected",
        400,
        [{"field": "url", "issue": issue} | ({"allowed": ["https"]} if issue == "must use https" else {})],
    )
    assert client.webhooks.list() == []


def test_unknown_event_types_and_fields_are_validation_failed(
    client: Client, strict_gateway: Gateway, key: Key
) -> None:
    with pytest.raises(ValidationError) as caught:
        client.webhooks.create(PUBLIC_URL, event_types=["generation.started"])
    assert (caught.value.code, caught.value.details) == (
        "validation_failed",
        [
            {
                "field": "event_types",
                "issue": "unknown event type 'generation.started'",
                "allowed": ["generation.succeeded", "generation.failed"],
            }
        ],
    )
    answer = strict_gateway.http.post(
        "/api/v1/webhooks", headers=key.headers, json={"url": PUBLIC_URL, "secret": "mine"}
    )
    assert (answer.status_code, answer.json()["error"]["details"][0]["field"]) == (400, "secret")


def test_webhooks_need_the_webhooks_manage_scope(strict_gateway: Gateway) -> None:
    key = strict_gateway.key(scopes=["generations:create", "generations:read"])
    with (
        Client(base_url=strict_gateway.base_url, api_key=key.secret) as client,
        pytest.raises(PermissionDeniedError) as caught,
    ):
        client.webhooks.list()
    assert caught.value.message == "This API key lacks the scope 'webhooks:manage'."


def test_another_accounts_endpoint_is_not_found(client: Client, strict_gateway: Gateway) -> None:
    theirs = strict_gateway.key()
    with Client(base_url=strict_gateway.base_url, api_key=theirs.secret) as other:
        endpoint: WebhookEndpoint = other.webhooks.create(PUBLIC_URL)
    with pytest.raises(NotFoundError):
        client.webhooks.retrieve(endpoint.id)
    with pytest.raises(NotFoundError):
        client.webhooks.delete(endpoint.id)
