"""FileReferenceResolver on its own: external URLs (SSRF guard) and duration tokens.

The shipped models take no URL input, so these tests build a model contract that does, and hand the
resolver a fake DNS resolver; connections only ever go to a real server on 127.0.0.2.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from imagine_gateway.catalog.contract import ModelContract, ReferencePolicy
from imagine_gateway.catalog.loader import load_catalog
from imagine_gateway.catalog.validation import ReferenceItem
from imagine_gateway.core.errors import FieldError, ValidationFailed
from imagine_gateway.media.storage import LocalStorage
from imagine_gateway.net import FetchPolicy
from imagine_gateway.providers.base import ReferenceInput
from imagine_gateway.services.accounts import open_accounts
from imagine_gateway.services.file_references import FileReferenceResolver
from imagine_gateway.services.files import FileService
from imagine_gateway.services.principal import Principal
from imagine_gateway.store.db import Database
from imagine_gateway.testing.loopback import LoopbackServer
from tests.conftest import make_settings
from tests.files import samples

URL_MODEL = ModelContract(
    id="test-url-model",
    display_name="URL model",
    category="video",
    output="video",
    base_credits=1,
    max_prompt_length=100,
    upstream_model="test",
    url_input_supported=True,
    reference_media=ReferencePolicy(max_files=2, kinds=("image", "video"), max_bytes={"image": samples.MIB}),
)
TEST_POLICY = FetchPolicy(
    timeout_s=5,
    allowed_schemes=frozenset({"http", "https"}),
    allowed_test_networks=frozenset({"127.0.0.2/32"}),
)


class FakeDns:
    """Answers from a table, as a resolver that an attacker controls could."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table

    async def resolve(self, host: str, port: int) -> list[str]:
        return self.table.get(host, [])


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000_000

    def now_ms(self) -> int:
        return self.now


@dataclasses.dataclass
class Env:
    service: FileService
    clock: Clock
    alice: Principal
    bob: Principal
    upstream: str

    def resolver(self, policy: FetchPolicy = TEST_POLICY) -> FileReferenceResolver:
        dns = FakeDns(
            {
                "images.example": ["127.0.0.2"],
                "internal.example": ["10.1.2.3"],
                "mixed.example": ["127.0.0.2", "192.168.0.9"],
            }
        )
        return FileReferenceResolver(self.service, fetch_policy=policy, dns=dns)


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """A web server on 127.0.0.2 serving a PNG, text, and redirects into private space."""
    port_holder: dict[str, int] = {}

    async def cat(request: Request) -> Response:
        return Response(samples.png((10, 200, 10)), media_type="image/png")

    async def text(request: Request) -> Response:
        return Response(b"not an image at all, just words\n" * 4, media_type="image/png")

    async def to_private(request: Request) -> Response:
        return RedirectResponse(f"http://127.0.0.1:{port_holder['port']}/cat.png", status_code=302)

    async def to_metadata(request: Request) -> Response:
        return RedirectResponse("http://169.254.169.254/latest/meta-data/", status_code=302)

    app = Starlette(
        routes=[
            Route("/cat.png", cat),
            Route("/text.png", text),
            Route("/to-private", to_private),
            Route("/to-metadata", to_metadata),
        ]
    )
    with LoopbackServer(app, host="127.0.0.2") as server:
        port_holder["port"] = server.port
        yield f"http://images.example:{server.port}"


@pytest.fixture
async def env(tmp_path: Path, upstream: str) -> AsyncIterator[Env]:
    settings = make_settings(
        tmp_path / "home", public_base_url="https://gateway.test", secret_key="references-secret"
    )
    async with open_accounts(settings) as accounts:
        alice = await accounts.create_key(name="alice")
        bob = await accounts.create_key(name="bob")
    db = Database(settings.resolved_database_url)
    storage = LocalStorage(tmp_path / "media")
    clock = Clock()
    service = FileService(db=db, storage=storage, catalog=load_catalog(), clock=clock, settings=settings)
    yield Env(
        service,
        clock,
        Principal(alice.account.id, alice.key.id, frozenset()),
        Principal(bob.account.id, bob.key.id, frozenset()),
        upstream,
    )
    await db.dispose()


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), 1000):
        yield data[offset : offset + 1000]


def failure(field: str, issue: str, allowed: Any = None) -> ValidationFailed:
    return ValidationFailed(f"{field}: {issue}", [FieldError(field, issue, allowed)])


async def refusal(
    resolver: FileReferenceResolver, account_id: str, *items: ReferenceItem
) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        await resolver.check(account_id, URL_MODEL, items)
    return caught.value


URL = "params.referenceMediaItems[0].url"
PRIVATE = "URL host is not a public internet address"


@pytest.mark.parametrize(
    ("url", "issue"),
    [
        ("http://127.0.0.1/x.png", PRIVATE),
        ("http://169.254.169.254/latest/meta-data/", PRIVATE),
        ("https://internal.example/x.png", PRIVATE),
        ("https://mixed.example/x.png", PRIVATE),
        ("http://[::1]/x.png", PRIVATE),
        ("{upstream}/to-private", "redirect target host is not a public internet address"),
        ("{upstream}/to-metadata", "redirect target host is not a public internet address"),
        ("{upstream}/text.png", None),
    ],
)
async def test_external_urls_into_private_space_are_refused(env: Env, url: str, issue: str | None) -> None:
    resolver = env.resolver()
    refused = await refusal(
        resolver, env.alice.account_id, ReferenceItem(url=url.format(upstream=env.upstream), kind="image")
    )
    expected = (
        failure(URL, issue)
        if issue
        else failure(URL, "content is text/plain, not an image", ["image/jpeg", "image/png", "image/webp"])
    )
    assert (refused.message, refused.details) == (expected.message, expected.details)


async def test_plain_http_is_refused_by_the_production_policy(env: Env) -> None:
    refused = await refusal(
        env.resolver(FetchPolicy()),
        env.alice.account_id,
        ReferenceItem(url=f"{env.upstream}/cat.png", kind="image"),
    )
    assert refused.details == [FieldError(URL, "URL scheme 'http' is not allowed", ["https"])]


async def test_an_allowed_external_image_is_fetched_once_and_loaded_from_storage(env: Env) -> None:
    resolver = env.resolver()
    item = ReferenceItem(url=f"{env.upstream}/cat.png", kind="image")
    await resolver.check(env.alice.account_id, URL_MODEL, (item,))
    # load() reads the stored copy: it works with the upstream unreachable for the resolver
    offline = FileReferenceResolver(env.service, fetch_policy=TEST_POLICY, dns=FakeDns({}))
    (loaded,) = await offline.load(env.alice.account_id, (item,))
    assert loaded == ReferenceInput(
        kind="image", mime_type="image/png", data=samples.png((10, 200, 10)), url=loaded.url
    )
    assert loaded.url is not None and loaded.url.startswith("https://gateway.test/media/uploads/file_")
    with pytest.raises(ValidationFailed):  # another account has no copy of that URL
        await offline.load(env.bob.account_id, (item,))


async def test_a_duration_token_binds_file_account_and_duration(env: Env, tmp_path: Path) -> None:
    video = samples.mp4(tmp_path / "clip.mp4", seconds=1.0)
    mine = await env.service.save(
        env.alice, stream=chunks(video), filename="clip.mp4", kind="video", model=None, client_request_id=None
    )
    theirs = await env.service.save(
        env.bob, stream=chunks(video), filename="clip.mp4", kind="video", model=None, client_request_id=None
    )
    view = env.service.file_view(mine)
    assert (view["kind"], view["mime_type"], view["width"], view["height"]) == ("video", "video/mp4", 128, 96)
    assert abs(view["duration_seconds"] - 1.0) < 0.01
    token = view["duration_token"]
    url = env.service.public_url(mine)
    resolver = env.resolver()

    await resolver.check(
        env.alice.account_id,
        URL_MODEL,
        (ReferenceItem(url=url, kind="video", duration_s=view["duration_seconds"], duration_token=token),),
    )

    field = "params.referenceMediaItems[0].durationToken"
    allowed = "the duration_token returned by the Files API for this file"
    cases = [
        (
            env.alice,
            url,
            token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"),
            failure(field, "is not a valid duration token", allowed),
        ),
        (env.bob, env.service.public_url(theirs), token, failure(field, "was issued to another account")),
        (env.alice, env.service.public_url(mine), env.service.duration_token(mine), None),
    ]
    for principal, item_url, item_token, expected in cases:
        item = ReferenceItem(url=item_url, kind="video", duration_token=item_token)
        if expected is None:
            await resolver.check(principal.account_id, URL_MODEL, (item,))
            continue
        refused = await refusal(resolver, principal.account_id, item)
        assert (refused.message, refused.details) == (expected.message, expected.details)

    lying = await refusal(
        resolver,
        env.alice.account_id,
        ReferenceItem(url=url, kind="video", duration_s=30.0, duration_token=token),
    )
    assert lying.details[0].field == "params.referenceMediaItems[0].durationSeconds"

    env.clock.now = mine.expires_at
    with pytest.raises(ValidationFailed) as expired:
        env.service.verify_duration_token(token, account_id=env.alice.account_id, file_id=mine.id, field="t")
    assert expired.value.details == [FieldError("t", "has expired", allowed)]


async def test_a_reference_is_checked_against_the_models_size_limit(env: Env) -> None:
    big = samples.jpeg(size=(2000, 1500))
    assert len(big) > samples.MIB
    record = await env.service.save(
        env.alice, stream=chunks(big), filename="big.jpg", kind="image", model=None, client_request_id=None
    )
    refused = await refusal(
        env.resolver(), env.alice.account_id, ReferenceItem(url=env.service.public_url(record), kind="image")
    )
    assert refused.details == [
        FieldError(
            URL,
            f"file is {len(big)} bytes; test-url-model accepts at most {samples.MIB}",
            f"at most {samples.MIB} bytes",
        )
    ]
