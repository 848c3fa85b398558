"""`-o` names the result after the task in a directory, and is checked before anything is created;
`imagine tasks wait` follows a task to its end, against a live gateway."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from imagine_gateway.cli.main import app
from tests.client.conftest import start_gateway
from tests.conftest import Gateway, Key
from tests.matchers import TASK_ID


@pytest.fixture
def key(shared_gateway: Gateway) -> Key:
    return shared_gateway.key(credits=1000)


@pytest.fixture
def imagine(shared_gateway: Gateway, key: Key) -> Callable[..., Result]:
    """Run `imagine ARGS...` with the gateway's URL and the key in the environment."""
    env = {"IMAGINE_BASE_URL": shared_gateway.base_url, "IMAGINE_API_KEY": key.secret}
    return lambda *args: CliRunner().invoke(app, list(args), env=env)


def nothing_was_created_or_charged(gateway: Gateway, key: Key) -> None:
    tasks = gateway.http.get("/api/v1/generations", headers=key.headers).json()["data"]
    credits = gateway.http.get("/api/v1/credits", headers=key.headers).json()
    assert (tasks, credits["balance"], credits["reserved"]) == ([], 1000, 0)


def stored_media(gateway: Gateway) -> list[Path]:
    return sorted(p for p in (gateway.settings.home / "media").rglob("*") if p.is_file())


def test_a_missing_directory_ending_with_a_slash_is_created_and_the_result_named_after_the_task(
    imagine: Callable[..., Result], tmp_path: Path
) -> None:
    result = imagine("generate", "image", "A red kite", "-o", f"{tmp_path}/new/deeper/")
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.strip())
    assert (path.parent, path.stem, path.suffix) == (tmp_path / "new" / "deeper", TASK_ID, ".png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_an_existing_directory_without_a_slash_is_a_directory_too(
    imagine: Callable[..., Result], tmp_path: Path
) -> None:
    result = imagine("generate", "video", "A paper boat", "-o", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["path"] == str(tmp_path / f"{shown['id']}.mp4")


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (
            "missing/clip.mp4",
            "cannot write {tmp}/missing/clip.mp4: the directory {tmp}/missing does not exist (end the path "
            "with / to have a directory created and the result named after the task)",
        ),
        ("a-file/", "cannot write into {tmp}/a-file/: it exists and is not a directory"),
        ("a-file/clip.mp4", "cannot write {tmp}/a-file/clip.mp4: {tmp}/a-file is not a directory"),
    ],
)
def test_an_unusable_output_path_fails_before_anything_is_created_or_charged(
    imagine: Callable[..., Result],
    shared_gateway: Gateway,
    key: Key,
    tmp_path: Path,
    png: Path,
    output: str,
    message: str,
) -> None:
    (tmp_path / "a-file").write_text("taken")
    stored_before = stored_media(shared_gateway)
    result = imagine("generate", "video", "Never made", "--ref", str(png), "-o", f"{tmp_path}/{output}")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        "error invalid_output: " + message.format(tmp=tmp_path) + "\n",
    )
    nothing_was_created_or_charged(shared_gateway, key)
    assert stored_media(shared_gateway) == stored_before  # the reference was not uploaded either


def test_an_unwritable_directory_fails_before_anything_is_created(
    imagine: Callable[..., Result], shared_gateway: Gateway, key: Key, tmp_path: Path
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        probe = locked / "probe"
        try:
            probe.touch()  # root ignores permissions: then there is nothing to test
            pytest.skip("running as a user that can write anywhere")
        except PermissionError:
            pass
        result = imagine("generate", "image", "Never made", "-o", str(locked))
    finally:
        locked.chmod(0o700)
    assert (result.exit_code, result.stderr) == (
        1,
        f"error invalid_output: cannot write {locked}: the directory {locked} is not writable\n",
    )
    nothing_was_created_or_charged(shared_gateway, key)


def test_tasks_download_creates_a_directory_ending_with_a_slash(
    imagine: Callable[..., Result], tmp_path: Path
) -> None:
    task_id = json.loads(imagine("generate", "image", "A door", "-o", str(tmp_path), "--json").stdout)["id"]
    again = imagine("tasks", "download", task_id, "-o", f"{tmp_path}/copies/")
    assert (again.exit_code, again.stdout) == (0, f"{tmp_path / 'copies' / task_id}.png\n")


def test_tasks_wait_prints_the_result_urls_once_the_task_succeeds(
    imagine: Callable[..., Result], shared_gateway: Gateway, key: Key
) -> None:
    task_id = imagine("generate", "image", "Later", "--no-wait").stdout.strip()
    result = imagine("tasks", "wait", task_id)
    assert result.exit_code == 0, result.output
    task = shared_gateway.http.get(f"/api/v1/generations/{task_id}", headers=key.headers).json()
    assert (task["status"], result.stdout) == (
        "succeeded",
        "".join(url + "\n" for url in task["result"]["urls"]),
    )
    assert result.stderr.splitlines()[-1] == f"{task_id} succeeded"


def test_tasks_wait_with_output_downloads_the_result_and_prints_its_path(
    imagine: Callable[..., Result], tmp_path: Path
) -> None:
    task_id = imagine("generate", "video", "Later", "--no-wait").stdout.strip()
    result = imagine("tasks", "wait", task_id, "-o", f"{tmp_path}/clips/")
    assert (result.exit_code, result.stdout) == (0, f"{tmp_path / 'clips' / task_id}.mp4\n")
    assert (tmp_path / "clips" / f"{task_id}.mp4").stat().st_size > 0


def test_tasks_wait_json_prints_the_finished_task(imagine: Callable[..., Result], tmp_path: Path) -> None:
    task_id = imagine("generate", "image", "Later", "--no-wait").stdout.strip()
    plain = json.loads(imagine("tasks", "wait", task_id, "--json").stdout)
    assert (plain["id"], plain["status"], "path" in plain) == (task_id, "succeeded", False)
    saved = json.loads(imagine("tasks", "wait", task_id, "--json", "-o", str(tmp_path)).stdout)
    assert {**saved, "path": None} == {**plain, "path": None}
    assert saved["path"] == str(tmp_path / f"{task_id}.png")


def test_tasks_wait_exits_1_when_the_task_was_canceled(slow_gateway: Gateway) -> None:
    key = slow_gateway.key(credits=100)
    env = {"IMAGINE_BASE_URL": slow_gateway.base_url, "IMAGINE_API_KEY": key.secret}
    runner = CliRunner()
    task_id = runner.invoke(app, ["generate", "video", "Slow", "--no-wait"], env=env).stdout.strip()
    assert runner.invoke(app, ["tasks", "cancel", task_id], env=env).exit_code == 0
    result = runner.invoke(app, ["tasks", "wait", task_id], env=env)
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        "error canceled: The task was canceled by the client.\n",
    )
    as_json = runner.invoke(app, ["tasks", "wait", task_id, "--json"], env=env)
    assert (as_json.exit_code, json.loads(as_json.stdout)["status"]) == (1, "canceled")


def test_tasks_wait_exits_1_with_the_error_when_the_task_failed(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    gateway = start_gateway(tmp_path_factory.mktemp("failing"), sandbox_failure_rate=1.0)
    try:
        key = gateway.key(credits=10)
        env = {"IMAGINE_BASE_URL": gateway.base_url, "IMAGINE_API_KEY": key.secret}
        runner = CliRunner()
        task_id = runner.invoke(app, ["generate", "image", "Doomed", "--no-wait"], env=env).stdout.strip()
        result = runner.invoke(
            app, ["tasks", "wait", task_id, "-o", str(tmp_path_factory.mktemp("out"))], env=env
        )
        task = gateway.http.get(f"/api/v1/generations/{task_id}", headers=key.headers).json()
    finally:
        gateway.http.close()
        gateway.server.stop()
    assert task["status"] == "failed"
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        f"error {task['error']['code']}: {task['error']['message']}\n",
    )


def test_tasks_wait_on_an_unknown_task_is_not_found(imagine: Callable[..., Result]) -> None:
    result = imagine("tasks", "wait", "task_missing")
    assert (result.exit_code, result.stderr) == (1, "error not_found: Task task_missing was not found.\n")
