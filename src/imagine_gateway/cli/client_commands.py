"""Client-side commands of `imagine`: they talk to a running gateway through the SDK.

    imagine models
    imagine generate video "A paper boat on a rainy street" --param duration=6 -o out/
    imagine tasks ls --status succeeded --json
    imagine files upload cat.png

``--base-url`` and ``--api-key`` default to ``IMAGINE_BASE_URL`` and ``IMAGINE_API_KEY``. Errors print
``error <code>: <message>`` on one line and exit 1; ``--json`` gives machine-readable output.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.prompt import Confirm
from rich.table import Column, Table

from imagine_gateway import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    Client,
    Generation,
    ImagineError,
    WaitTimeoutError,
)

DEFAULT_MODELS = {"image": "grok-imagine", "video": "grok-imagine-video"}
EXIT_INTERRUPTED = 130

out = Console()
err = Console(stderr=True)

generate_app = typer.Typer(no_args_is_help=True, help="Generate an image or a video and download it.")
tasks_app = typer.Typer(no_args_is_help=True, help="List, show, cancel and download generation tasks.")
files_app = typer.Typer(no_args_is_help=True, help="Upload reference files.")

BaseUrl = Annotated[
    str | None, typer.Option("--base-url", envvar="IMAGINE_BASE_URL", help="Gateway URL", show_envvar=True)
]
ApiKey = Annotated[
    str | None, typer.Option("--api-key", envvar="IMAGINE_API_KEY", help="API key", show_envvar=True)
]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output")]


def register(app: typer.Typer) -> None:
    """Add the client commands to the `imagine` app."""
    app.command("models")(models)
    app.add_typer(generate_app, name="generate")
    app.add_typer(tasks_app, name="tasks")
    app.add_typer(files_app, name="files")


@contextmanager
def _client(base_url: str | None, api_key: str | None) -> Iterator[Client]:
    """A client whose errors end the command with one line and exit status 1."""
    try:
        with Client(base_url=base_url, api_key=api_key) as client:
            yield client
    except APIStatusError as exc:
        _fail(exc.code, exc.message)
    except APITimeoutError as exc:
        _fail("timeout", exc.message)
    except APIConnectionError as exc:
        _fail(
            "connection_error", f"{exc.message} (is the gateway running at {base_url or 'the default URL'}?)"
        )
    except WaitTimeoutError as exc:
        _fail("wait_timeout", str(exc))
    except ImagineError as exc:
        _fail(type(exc).__name__, str(exc))
    except (OSError, ValueError) as exc:
        _fail("invalid_input", str(exc))


def _fail(code: str, message: str) -> None:
    err.print(f"[red]error[/red] {code}: {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _dump(model: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_dump(mode="json")
    return dumped


def models(base_url: BaseUrl = None, api_key: ApiKey = None, as_json: AsJson = False) -> None:
    """List the models and their credit prices."""
    with _client(base_url, api_key) as client:
        found = client.models.list()
    if as_json:
        _print_json([_dump(m) for m in found])
        return
    widest = max((len(m.id) for m in found), default=5)
    table = Table(Column("model", no_wrap=True, min_width=widest), "category", "credits")
    table.add_column("parameters", overflow="fold")
    for m in found:
        params = ", ".join(
            f"{p.key}={'|'.join(p.options)}" if p.options else f"{p.key} {_num(p.min)}..{_num(p.max)}"
            for p in m.params
        )
        table.add_row(m.id, m.category, str(m.base_credits), params)
    out.print(table)


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; a value that reads as JSON (6, true, 1.5) is sent as such."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected key=value, got {pair!r}", param_hint="--param")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        params[key] = value if isinstance(value, int | float | bool) else raw
    return params


def _generate(
    kind: str,
    prompt: str,
    model: str | None,
    param: list[str] | None,
    ref: list[Path] | None,
    output: Path,
    no_wait: bool,
    as_json: bool,
    timeout_s: float,
    base_url: str | None,
    api_key: str | None,
) -> None:
    params = parse_params(param or [])
    model_id = model or DEFAULT_MODELS[kind]
    with _client(base_url, api_key) as client:
        if ref:
            uploaded = [client.files.upload(path, model=model_id) for path in ref]
            params["referenceMediaItems"] = [f.as_reference() for f in uploaded]
        task = client.generations.create(model_id, prompt, params=params)
        if no_wait:
            if as_json:
                _print_json(_dump(task))
            else:
                err.print(f"created {task.id} ({task.status}, {task.reserved_credits} credits reserved)")
                print(task.id)
            return
        if as_json:
            done = client.generations.wait(task.id, timeout_s=timeout_s)
        else:
            err.print(f"created {task.id} ({task.reserved_credits} credits reserved)", highlight=False)
            done = _wait_with_progress(client, task, timeout_s)
        if done.status != "succeeded":
            if as_json:
                _print_json(_dump(done))
            error = done.error
            _fail(error.code if error else done.status, error.message if error else f"task {done.status}")
        path = client.generations.download(done.id, output)
    if as_json:
        _print_json({**_dump(done), "path": str(path)})
    else:
        print(path)


def _wait_with_progress(client: Client, task: Generation, timeout_s: float) -> Generation:
    """Wait with a live bar (status, progress, elapsed); Ctrl-C offers to cancel the task."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        refresh_per_second=8,
    )
    row: TaskID = progress.add_task(_describe(task), total=100, completed=task.progress)

    def show(current: Generation) -> None:
        progress.update(row, description=_describe(current), completed=current.progress)

    try:
        with progress:
            return client.generations.wait(task.id, timeout_s=timeout_s, on_progress=show)
    except KeyboardInterrupt:
        return _offer_cancel(client, task.id)


def _describe(task: Generation) -> str:
    return f"{task.id} [bold]{task.status}[/bold]"


def _offer_cancel(client: Client, task_id: str) -> Generation:
    try:
        cancel = Confirm.ask(f"\nCancel task {task_id}?", console=err, default=True)
    except (KeyboardInterrupt, EOFError):
        cancel = False
    if cancel:
        canceled = client.generations.cancel(task_id)
        err.print(f"canceled {canceled.id}; its credits were released", highlight=False)
    else:
        err.print(f"{task_id} goes on; see it with: imagine tasks show {task_id}", highlight=False)
    raise typer.Exit(EXIT_INTERRUPTED)


Prompt = Annotated[str, typer.Argument(help="What to generate")]
ModelOpt = Annotated[str | None, typer.Option(help="Model id (see `imagine models`)")]
ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="A model parameter key=value (repeat)")
]
RefOpt = Annotated[
    list[Path] | None,
    typer.Option("--ref", help="A reference file to upload and use (repeat)", exists=True, dir_okay=False),
]
OutputOpt = Annotated[Path, typer.Option("--output", "-o", help="File or directory for the result")]
NoWait = Annotated[bool, typer.Option("--no-wait", help="Print the task id and return at once")]
WaitTimeout = Annotated[float, typer.Option("--timeout", help="Give up waiting after this many seconds")]


@generate_app.command("image")
def generate_image(
    prompt: Prompt,
    model: ModelOpt = None,
    param: ParamOpt = None,
    ref: RefOpt = None,
    output: OutputOpt = Path("."),
    no_wait: NoWait = False,
    timeout_s: WaitTimeout = 1800,
    as_json: AsJson = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Generate an image (default model grok-imagine): upload references, create the task, show its
    progress, download the result and print its path."""
    _generate("image", prompt, model, param, ref, output, no_wait, as_json, timeout_s, base_url, api_key)


@generate_app.command("video")
def generate_video(
    prompt: Prompt,
    model: ModelOpt = None,
    param: ParamOpt = None,
    ref: RefOpt = None,
    output: OutputOpt = Path("."),
    no_wait: NoWait = False,
    timeout_s: WaitTimeout = 1800,
    as_json: AsJson = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Generate a video (default model grok-imagine-video): upload references, create the task, show
    its progress, download the result and print its path."""
    _generate("video", prompt, model, param, ref, output, no_wait, as_json, timeout_s, base_url, api_key)


@tasks_app.command("ls")
def tasks_ls(
    status: Annotated[
        str | None, typer.Option(help="queued, processing, succeeded, failed or canceled")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Only this model")] = None,
    limit: Annotated[int, typer.Option(help="At most this many tasks")] = 20,
    as_json: AsJson = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """List tasks, newest first."""
    with _client(base_url, api_key) as client:
        found = list(itertools.islice(client.generations.list(status=status, model=model), limit))
    if as_json:
        _print_json([_dump(t) for t in found])
        return
    table = Table(Column("id", no_wrap=True), "status", "progress", "model", "credits", "created")
    for t in found:
        credits = t.final_credits if t.status == "succeeded" else t.reserved_credits
        table.add_row(
            t.id, t.status, f"{t.progress}%", t.model, str(credits), f"{t.created_at:%Y-%m-%d %H:%M:%S}"
        )
    out.print(table)


@tasks_app.command("show")
def tasks_show(
    task_id: Annotated[str, typer.Argument(help="Task id")],
    as_json: AsJson = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Show one task."""
    with _client(base_url, api_key) as client:
        task = client.generations.retrieve(task_id)
    if as_json:
        _print_json(_dump(task))
        return
    lines = [
        f"{task.id}  {task.status} {task.progress}%",
        f"model    {task.model}  {_params_text(task.params)}",
        f"prompt   {task.prompt}",
        f"credits  reserved {task.reserved_credits}, final {task.final_credits}",
        f"created  {task.created_at:%Y-%m-%d %H:%M:%S}"
        + (f", completed {task.completed_at:%Y-%m-%d %H:%M:%S}" if task.completed_at else ""),
    ]
    if task.result is not None:
        lines += [f"result   {url}" for url in task.result.urls]
    if task.error is not None:
        lines.append(f"error    {task.error.code}: {task.error.message}")
    for line in lines:
        out.print(line, highlight=False, soft_wrap=True)


def _params_text(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items() if k != "referenceMediaItems")


@tasks_app.command("cancel")
def tasks_cancel(
    task_id: Annotated[str, typer.Argument(help="Task id")],
    as_json: AsJson = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Cancel a queued or processing task (its credits are released)."""
    with _client(base_url, api_key) as client:
        task = client.generations.cancel(task_id)
    if as_json:
        _print_json(_dump(task))
    else:
        out.print(f"canceled {task.id}", highlight=False)


@tasks_app.command("download")
def tasks_download(
    task_id: Annotated[str, typer.Argument(help="Task id")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File or directory")] = Path("."),
    index: Annotated[int, typer.Option(help="Which result, when there are several")] = 0,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Download a succeeded task's result and print its path."""
    with _client(base_url, api_key) as client:
        path = client.generations.download(task_id, output, index=index)
    print(path)


@files_app.command("upload")
def files_upload(
    path: Annotated[Path, typer.Argument(help="Image, video or audio file", exists=True, dir_okay=False)],
    kind: Annotated[str | None, typer.Option(help="image, video or audio (default: from the name)")] = None,
    model: Annotated[str | None, typer.Option(help="Check the file against this model's limits")] = None,
    as_json: AsJson = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Upload a reference file; prints its id and URL."""
    started = time.monotonic()
    with _client(base_url, api_key) as client:
        uploaded = client.files.upload(path, kind=kind, model=model)
    if as_json:
        _print_json(_dump(uploaded))
        return
    err.print(
        f"uploaded {uploaded.name} ({uploaded.mime_type}, {uploaded.size_bytes} bytes) "
        f"in {time.monotonic() - started:.1f} s",
        highlight=False,
    )
    out.print(f"{uploaded.id} {uploaded.url}", highlight=False, soft_wrap=True)
