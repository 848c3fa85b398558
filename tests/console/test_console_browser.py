"""The console in a real browser (Debian's Chromium through Playwright) against a live gateway.

One Chromium and one gateway serve the whole module; each test has its own tab and key.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from imagine_gateway.webhooks import verify
from tests.conftest import Gateway
from tests.console.conftest import new_key, screenshot, sign_in
from tests.webhooks.conftest import Receiver

# Slow: the module's browser and gateway take half a minute in all, so it is handed out first.
pytestmark = [pytest.mark.timeout(90), pytest.mark.slow]


def picture(path: Path, color: tuple[int, int, int]) -> Path:
    """A small PNG to upload as a reference."""
    buffer = io.BytesIO()
    Image.new("RGB", (96, 64), color).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


def choose(page: Any, model: str, mode: str) -> None:
    # The create form first: until it is drawn, "Model" is the gallery's filter, and choosing there
    # rewrites the fragment back to the gallery before the click on "Create" is handled.
    page.get_by_label("Generation type").wait_for()
    page.get_by_label("Model").select_option(model)
    page.get_by_label("Generation type").select_option(mode)


def shown_price(page: Any) -> int:
    """The credits the form says the request will reserve, once the line has settled."""
    page.wait_for_function("() => document.querySelector('#price')?.dataset.credits")
    return int(page.locator("#price").get_attribute("data-credits"))


def submit(page: Any) -> str:
    """Presses Generate; the console moves to the gallery and names the new task in its fragment."""
    page.get_by_role("button", name="Generate").click()
    page.wait_for_url(re.compile(r"#/gallery\?created="))
    return page.evaluate("new URLSearchParams(location.hash.split('?')[1]).get('created')")


def test_a_new_user_makes_an_image_and_a_video_from_references_and_sees_them_finish(
    page: Any, live: Gateway, tmp_path: Path
) -> None:
    key = new_key(live, credits=200)
    made_before = [
        live.http.post(
            "/api/v1/generations", headers=key.headers, json={"model": model, "prompt": prompt}
        ).json()["id"]
        for model, prompt in [
            ("grok-imagine", "a lighthouse at dusk"),
            ("grok-imagine-image", "a bowl of lemons"),
        ]
    ]
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    sign_in(page, live, key)
    page.evaluate("window.sameDocument = true")  # gone if anything reloads the page

    page.get_by_role("link", name="Create").click()
    choose(page, "grok-imagine", "image-edit")
    page.get_by_label("Source images").set_input_files(picture(tmp_path / "cat.png", (200, 40, 40)))
    page.locator(".ref-list img").wait_for()
    page.get_by_label("Prompt").fill("the cat, in watercolour")
    image_price = shown_price(page)
    image_id = submit(page)

    page.get_by_role("link", name="Create").click()
    choose(page, "grok-imagine-video-1.5", "image-to-video")
    page.get_by_label("Duration").fill("2")
    page.get_by_label("Prompt").fill("the frame comes alive")
    page.get_by_label("First frame").set_input_files(picture(tmp_path / "frame.png", (30, 90, 200)))
    page.locator(".ref-list img").wait_for()  # uploaded: the price is asked again with the file in it
    video_price = shown_price(page)
    video_id = submit(page)

    for task_id in (image_id, video_id, *made_before):
        page.locator(f'.tile[data-task-id="{task_id}"] .badge[data-status="succeeded"]').wait_for(
            timeout=30_000
        )
    assert page.evaluate("window.sameDocument") is True

    image = live.http.get(f"/api/v1/generations/{image_id}", headers=key.headers).json()
    video = live.http.get(f"/api/v1/generations/{video_id}", headers=key.headers).json()
    assert [(i["kind"], i["role"], i["name"]) for i in image["params"]["referenceMediaItems"]] == [
        ("image", "source", "cat.png")
    ]
    assert [(i["kind"], i["role"], i["name"]) for i in video["params"]["referenceMediaItems"]] == [
        ("image", "first_frame", "frame.png")
    ]
    assert (image["reserved_credits"], video["reserved_credits"]) == (image_price, video_price)
    balance = live.http.get("/api/v1/credits", headers=key.headers).json()["balance"]
    assert balance == 200 - image_price - video_price - 4 - 4
    page.locator("#balance-value", has_text=str(balance)).wait_for()

    tile_video = page.locator(f'.tile[data-task-id="{video_id}"] video')
    tile_video.hover()
    page.wait_for_function(
        "v => v.readyState >= 2 && v.duration > 0 && !v.paused",
        arg=tile_video.element_handle(),
        timeout=15_000,
    )
    assert tile_video.evaluate("v => v.duration") == pytest.approx(
        video["result"]["media"][0]["duration_seconds"], abs=0.5
    )
    page.mouse.move(0, 0)
    screenshot(page, "gallery-1280x900.png")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.locator(f'.tile[data-task-id="{video_id}"] .badge[data-status="succeeded"]').wait_for()
    screenshot(page, "gallery-390x844.png")
    widths = {"gallery": page.evaluate("document.documentElement.scrollWidth")}
    for route in (f"task/{video_id}", "create", "credits", "keys", "webhooks"):
        page.goto(f"{live.base_url}/console#/{route}")
        page.locator("main h2").first.wait_for()
        page.wait_for_load_state("networkidle")
        widths[route] = page.evaluate("document.documentElement.scrollWidth")
    assert {route: width <= 390 for route, width in widths.items()} == dict.fromkeys(widths, True), widths
    assert [url for url in urls if key.secret in url] == []  # the key travels in a header, never a URL


def test_a_refused_key_or_value_shows_the_apis_message_beside_its_field(page: Any, live: Gateway) -> None:
    key = new_key(live, credits=50)
    page.goto(f"{live.base_url}/console")
    page.get_by_label("API key").fill(key.secret[:-4] + "xxxx")
    page.get_by_role("button", name="Sign in").click()
    unknown = live.http.get("/api/v1/credits", headers={"Authorization": f"Bearer {key.secret[:-4]}xxxx"})
    page.locator("#f-key-error", has_text=unknown.json()["error"]["message"]).wait_for()

    sign_in(page, live, key)
    page.get_by_role("link", name="Create").click()
    choose(page, "grok-imagine-video", "text-to-video")
    page.get_by_label("Prompt").fill("a long shot")
    page.get_by_label("Duration").fill("99")
    page.get_by_role("button", name="Generate").click()

    body = {"model": "grok-imagine-video", "prompt": "a long shot", "params": {"duration": 99}}
    refused = live.http.post("/api/v1/generations", headers=key.headers, json=body).json()["error"]
    issue = next(d["issue"] for d in refused["details"] if d["field"] == "params.duration")
    duration = page.get_by_label("Duration")
    message = page.locator(f"#{duration.get_attribute('id')}-error")
    message.wait_for()
    assert message.inner_text() == issue
    assert duration.get_attribute("aria-invalid") == "true"
    assert duration.evaluate("el => el === document.activeElement")
    listed = live.http.get("/api/v1/generations", headers=key.headers).json()["data"]
    balance = live.http.get("/api/v1/credits", headers=key.headers).json()["balance"]
    assert (listed, balance) == ([], 50)  # refused: nothing made, nothing taken


def curl_credits(base_url: str, secret: str) -> tuple[int, dict[str, Any]]:
    """GET /api/v1/credits with curl, as a user would try a new key: (HTTP status, JSON body)."""
    done = subprocess.run(
        [
            "curl",
            "-s",
            "-w",
            "\\n%{http_code}",
            "-H",
            f"Authorization: Bearer {secret}",
            f"{base_url}/api/v1/credits",
        ],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    body, status = done.stdout.rsplit("\n", 1)
    return int(status), json.loads(body)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_a_key_made_in_the_console_works_with_curl_until_it_is_revoked_there(
    page: Any, live: Gateway
) -> None:
    key = new_key(live, credits=20)
    sign_in(page, live, key)
    page.get_by_role("link", name="Keys").click()
    page.get_by_label("Name").fill("made in the console")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#new-secret").inner_text()
    assert secret.startswith("igw_sk_")

    status, body = curl_credits(live.base_url, secret)
    assert (status, body["account_id"], body["balance"]) == (200, key.account_id, 20)

    page.once("dialog", lambda dialog: dialog.accept())
    row = page.locator("tr", has_text="made in the console")
    row.get_by_role("button", name="Revoke").click()
    row.get_by_text("revoked").wait_for()
    status, body = curl_credits(live.base_url, secret)
    assert (status, body["error"]["code"]) == (401, "api_key_revoked")


ADMIN_SCOPES = ["admin", "models:read", "generations:read", "credits:read"]


def test_an_admin_tops_up_an_account_and_its_balance_and_ledger_show_it_once(
    page: Any, live: Gateway
) -> None:
    customer = new_key(live, credits=10)
    admin = new_key(live, credits=0, scopes=ADMIN_SCOPES, name="operator")
    sign_in(page, live, admin)
    page.get_by_role("link", name="Admin").click()
    page.get_by_role("link", name=customer.account_id).click()
    topup = page.locator("form", has=page.get_by_role("heading", name="Top up"))
    topup.get_by_label("Credits").fill("25")
    topup.get_by_label("Reference").fill("INV-1001")
    topup.get_by_role("button", name="Top up").click()
    topup.get_by_text("Top up: 25 credits recorded.").wait_for()
    page.locator('[data-fact="balance"]', has_text="35").wait_for()
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_role("link", name="← Accounts").click()
    page.get_by_role("heading", name="Margin report").wait_for()
    page.locator("td", has_text="Total").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    ledger = live.http.get("/api/v1/credits/ledger", headers=customer.headers).json()["data"]
    assert [
        (e["kind"], e["amount"], e["balance_after"], e["reference"]) for e in ledger if e["kind"] == "topup"
    ] == [
        ("topup", 25, 35, "INV-1001"),
        ("topup", 10, 10, None),
    ]


def test_a_webhook_endpoint_added_in_the_console_gets_a_signed_test_and_its_log_shows_it(
    page: Any, live: Gateway, hooks: Receiver
) -> None:
    key = new_key(live, credits=0)
    sign_in(page, live, key)
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_label("URL").fill(f"{hooks.url}/imagine")
    page.get_by_label("Name").fill("my receiver")
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.locator("#new-secret").inner_text()
    assert secret.startswith("whsec_")

    row = page.locator("tr", has_text="my receiver")
    row.get_by_role("button", name="Send test").click()
    (received,) = hooks.wait_for(1)
    assert (received.path, json.loads(received.body)["type"]) == ("/imagine", "webhook.test")
    assert verify(received.body, received.headers, secret).type == "webhook.test"  # signed with it
    log = page.locator("section", has=page.get_by_role("heading", name="Deliveries to my receiver"))
    log.locator("td", has_text="webhook.test").wait_for()  # the log opens on the test's delivery
    endpoint = live.http.get("/api/v1/webhooks", headers=key.headers).json()["data"][0]
    deliveries = f"/api/v1/webhooks/{endpoint['id']}/deliveries"
    for _ in range(200):  # the receiver has answered; the gateway records that right after
        (delivery,) = live.http.get(deliveries, headers=key.headers).json()["data"]
        if delivery["status"] != "pending":
            break
        time.sleep(0.02)
    row.get_by_role("button", name="Deliveries").click()
    shown = log.locator(f'tr[data-delivery-id="{delivery["id"]}"] td')
    shown.nth(2).filter(has_text="succeeded").wait_for()
    assert shown.all_inner_texts()[1:5] == ["webhook.test", "succeeded", "1", "200"]


def test_the_gallery_pages_by_cursor_and_filters_by_model_and_status(page: Any, live: Gateway) -> None:
    key = new_key(live, credits=500)

    def create(model: str, prompt: str) -> str:
        body = {"model": model, "prompt": prompt}
        made: str = live.http.post("/api/v1/generations", headers=key.headers, json=body).json()["id"]
        return made

    first = create("grok-imagine", "picture 0")
    canceled = live.http.post(f"/api/v1/generations/{first}/cancel", headers=key.headers).json()
    assert canceled["status"] == "canceled"
    images = [first, *(create("grok-imagine", f"picture {n}") for n in range(1, 25))]
    video = create("grok-imagine-video", "the only video")
    sign_in(page, live, key)

    tiles = page.locator(".grid .tile")
    page.get_by_text("24 generations shown").wait_for()
    assert tiles.first.get_attribute("data-task-id") == video  # newest first
    page.get_by_role("button", name="Load more").click()
    page.get_by_text("26 generations shown").wait_for()
    assert page.get_by_role("button", name="Load more").is_hidden()
    assert sorted(tiles.evaluate_all("ts => ts.map(t => t.dataset.taskId)")) == sorted([*images, video])

    page.get_by_label("Model").select_option("grok-imagine-video")
    page.get_by_role("status").filter(has_text="1 generation shown").wait_for()
    assert tiles.evaluate_all("ts => ts.map(t => t.dataset.taskId)") == [video]
    assert "model=grok-imagine-video" in page.url  # the fragment keeps the filter for a reload or a link

    page.get_by_label("Model").select_option("")
    page.get_by_label("Status").select_option("canceled")
    page.locator(f'.tile[data-task-id="{images[0]}"] .badge[data-status="canceled"]').wait_for()
    page.get_by_role("status").filter(has_text="1 generation shown").wait_for()
    assert tiles.evaluate_all("ts => ts.map(t => t.dataset.taskId)") == [images[0]]


ROLE_LABELS = {
    "first_frame": "First frame",
    "last_frame": "Last frame",
    "keyframe": "Keyframes",
    "reference": "Reference images",
    "audio": "Reference audio",
    "edit": "Video to edit",
    "extend": "Video to extend",
    "source": "Source images",
}


def test_the_form_offers_every_model_and_mode_of_the_catalog_with_its_files_and_params(
    page: Any, live: Gateway
) -> None:
    key = new_key(live, credits=0)
    catalog = live.http.get("/api/v1/models").json()["data"]
    sign_in(page, live, key)
    page.get_by_role("link", name="Create").click()
    page.get_by_role("heading", name="New generation").wait_for()
    offered = page.get_by_label("Model").locator("option").evaluate_all("os => os.map(o => o.value)")
    assert sorted(offered) == sorted(m["id"] for m in catalog)
    for model in catalog:
        page.get_by_label("Model").select_option(model["id"])
        modes = (
            page.get_by_label("Generation type").locator("option").evaluate_all("os => os.map(o => o.value)")
        )
        assert modes == [m["name"] for m in model["modes"]]
        for mode in model["modes"]:
            page.get_by_label("Generation type").select_option(mode["name"])
            pickers = page.locator(".ref-group label").all_inner_texts()
            assert pickers == [ROLE_LABELS[role] for role in mode["roles"]], (model["id"], mode["name"])
            params = page.locator(".params label").all_inner_texts()
            assert len(params) == len(model["params"]), (model["id"], mode["name"])
            counter = page.locator(".counter").inner_text()
            assert counter.startswith(f"0 / {model['max_prompt_length']} characters")
