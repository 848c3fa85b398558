"""The client side of `imagine` (models, generate, tasks, files) against a live gateway."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from imagine_gateway.cli.main import app
from tests.conftest import Gateway, Key, start_gateway
from tests.matchers import TASK_ID, Matches


@pytest.fixture
def key(shared_gateway: Gateway) -> Key:
    return shared_gateway.key(credits=1000)


@pytest.fixture
def imagine(shared_gateway: Gateway, key: Key) -> Callable[..., Result]:
    """Run `imagine ARGS...` with the gateway's URL and the key in the environment."""
    runner = CliRunner()

    def run(*args: str, api_key: str | None = None, base_url: str | None = None) -> Result:
        env = {
            "IMAGINE_BASE_URL": base_url or shared_gateway.base_url,
            "IMAGINE_API_KEY": api_key or key.secret,
        }
        return runner.invoke(app, list(args), env=env)

    return run


def test_models_lists_the_catalog_as_a_table_or_json(imagine: Callable[..., Result]) -> None:
    table = imagine("models")
    assert table.exit_code == 0
    first_cells = [line.split("│")[1].strip() for line in table.stdout.splitlines() if line.startswith("│")]
    assert [cell for cell in first_cells if cell] == [
        "grok-imagine",
        "grok-imagine-video",
        "grok-imagine-video-1.5",
        "grok-imagine-video-1.5-lite",
        "grok-imagine-image",
        "grok-imagine-image-2.0",
    ]
    listed = imagine("models", "--json")
    assert [m["id"] for m in json.loads(listed.stdout)] == [
        "grok-imagine",
        "grok-imagine-video",
        "grok-imagine-video-1.5",
        "grok-imagine-video-1.5-lite",
        "grok-imagine-image",
        "grok-imagine-image-2.0",
    ]


def test_generate_image_downloads_the_result_and_prints_its_path(
    imagine: Callable[..., Result], tmp_path: Path
) -> None:
    result = imagine("generate", "image", "A red kite", "--param", "aspect_ratio=16:9", "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.strip())
    assert (path.parent, path.suffix, path.read_bytes()[:4]) == (tmp_path, ".png", b"\x89PNG")
    assert path.stem == TASK_ID
    assert "created task_" in result.stderr


def test_generate_video_with_a_reference_and_json_output(
    imagine: Callable[..., Result], tmp_path: Path, png: Path
) -> None:
    out = tmp_path / "clip.mp4"
    result = imagine(
        "generate", "video", "Make it move", "--ref", str(png), "-p", "duration=6", "-o", str(out), "--json"
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["status"], shown["model"], shown["path"], shown["params"]["duration"]) == (
        "succeeded",
        "grok-imagine-video",
        str(out),
        6,
    )
    assert [item["name"] for item in shown["params"]["referenceMediaItems"]] == ["reference.png"]
    assert out.stat().st_size == shown["result"]["media"][0]["size_bytes"]


def test_generate_no_wait_prints_only_the_task_id(imagine: Callable[..., Result]) -> None:
    result = imagine("generate", "image", "Later", "--no-wait")
    assert (result.exit_code, result.stdout.strip()) == (0, TASK_ID)


def test_tasks_ls_show_and_download(imagine: Callable[..., Result], tmp_path: Path) -> None:
    made = imagine("generate", "image", "A blue door", "-o", str(tmp_path), "--json")
    task_id = json.loads(made.stdout)["id"]
    listed = imagine("tasks", "ls", "--json")
    assert [t["id"] for t in json.loads(listed.stdout)] == [task_id]
    assert task_id in imagine("tasks", "ls").stdout
    shown = imagine("tasks", "show", task_id)
    assert shown.stdout.splitlines()[:3] == [
        f"{task_id}  succeeded 100%",
        "model    grok-imagine  aspect_ratio=1:1 enable_pro=false",
        "prompt   A blue door",
    ]
    assert json.loads(imagine("tasks", "show", task_id, "--json").stdout)["status"] == "succeeded"
    again = imagine("tasks", "download", task_id, "-o", str(tmp_path / "door.png"))
    assert (again.exit_code, again.stdout.strip()) == (0, str(tmp_path / "door.png"))


def test_tasks_cancel(slow_gateway: Gateway) -> None:
    key = slow_gateway.key(credits=100)
    env = {"IMAGINE_BASE_URL": slow_gateway.base_url, "IMAGINE_API_KEY": key.secret}
    runner = CliRunner()
    task_id = runner.invoke(app, ["generate", "video", "Slow", "--no-wait"], env=env).stdout.strip()
    canceled = runner.invoke(app, ["tasks", "cancel", task_id], env=env)
    assert (canceled.exit_code, canceled.stdout) == (0, f"canceled {task_id}\n")
    again = runner.invoke(app, ["tasks", "cancel", task_id], env=env)
    assert (again.exit_code, again.stderr) == (
        1,
        f"error task_state_conflict: Task {task_id} is already canceled; only queued or processing tasks can "
        "be canceled.\n",
    )


def test_files_upload_prints_the_file_id_and_url(imagine: Callable[..., Result], png: Path) -> None:
    human = imagine("files", "upload", str(png))
    assert human.exit_code == 0
    assert human.stdout == Matches(r"file_\S+ http://127\.0\.0\.1:\d+/media/uploads/\S+\n")
    as_json = json.loads(imagine("files", "upload", str(png), "--json").stdout)
    assert (as_json["kind"], as_json["mime_type"], as_json["width"]) == ("image", "image/png", 64)


@pytest.mark.parametrize(
    ("args", "api_key", "line"),
    [
        (("tasks", "ls"), "igw_sk_wrong", "error api_key_invalid: The API key is not valid.\n"),
        (
            ("tasks", "show", "task_missing"),
            None,
            "error not_found: Task task_missing was not found.\n",
        ),
    ],
)
def test_errors_print_code_and_message_on_one_line_and_exit_1(
    imagine: Callable[..., Result], args: tuple[str, ...], api_key: str | None, line: str
) -> None:
    result = imagine(*args, api_key=api_key)
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", line)


def test_a_validation_error_shows_the_allowed_values_under_its_line(imagine: Callable[..., Result]) -> None:
    result = imagine("generate", "image", "x", "-p", "aspect_ratio=5:4")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        "error validation_failed: params.aspect_ratio: '5:4' is not one of the options\n"
        "  allowed: 1:1, 2:3, 3:2, 16:9, 9:16\n",
    )


def test_several_bad_fields_are_listed_one_a_line_with_what_each_allows(
    imagine: Callable[..., Result],
) -> None:
    result = imagine(
        "generate", "video", "x", "-p", "duration=99", "-p", "resolution=4k", "-p", "foo=1", "--no-wait"
    )
    assert (result.exit_code, result.stdout, result.stderr.splitlines()) == (
        1,
        "",
        [
            "error validation_failed: params.foo: unknown parameter (and 2 more)",
            "  params.foo: unknown parameter (allowed: mode, duration, resolution, aspect_ratio, "
            "referenceMediaItems)",
            "  params.duration: 99 is above the maximum 30 (allowed: 6..30, step 1)",
            "  params.resolution: '4k' is not one of the options (allowed: 480p, 720p)",
        ],
    )


def test_an_unreachable_gateway_is_a_connection_error(imagine: Callable[..., Result]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = imagine("models", base_url=f"http://127.0.0.1:{port}")
    assert (result.exit_code, result.stderr) == (1, Matches(r"error connection_error: .*\n"))


def test_a_failed_generation_prints_its_error_and_exits_1(tmp_path_factory: pytest.TempPathFactory) -> None:
    gateway = start_gateway(tmp_path_factory.mktemp("failing"), sandbox_failure_rate=1.0)
    try:
        key = gateway.key(credits=10)
        env = {"IMAGINE_BASE_URL": gateway.base_url, "IMAGINE_API_KEY": key.secret}
        result = CliRunner().invoke(app, ["generate", "image", "Doomed"], env=env)
    finally:
        gateway.http.close()
        gateway.server.stop()
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.splitlines()[-1] == Matches(r"error \w+: .+")
