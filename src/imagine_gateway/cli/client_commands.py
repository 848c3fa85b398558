"""Client-side commands of `imagine`: they talk to a running gateway through the SDK.

    imagine models
    imagine generate video "A paper boat on a rainy street" --param duration=6 -o out/
    imagine tasks ls --status succeeded --json
    imagine tasks wait TASK_ID -o out/
    imagine files upload cat.png

``--base-url`` and ``--api-key`` default to ``IMAGINE_BASE_URL`` and ``IMAGINE_API_KEY``. Errors print
``error <code>: <message>`` on one line (then one line per bad field, with its allowed values) and exit
1; ``--json`` gives machine-readable output.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Column, Table

from imagine_gateway.cli.client_common import (
    ApiKey,
    AsJson,
    BaseUrl,
    NoWait,
    OutputOpt,
    WaitTimeout,
    client,
    dump,
    err,
    finish,
    out,
    output_path,
    print_json,
)
from imagine_gateway.cli.task_commands import tasks_app
from imagine_gateway.cli.waiting import wait_until_ended

DEFAULT_MODELS = {"image": "grok-imagine", "video": "grok-imagine-video"}

# Plain help (no rich panels): typer's rich help labels every flag, --help included, with "<bool>".
generate_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="Generate an image or a video and download it."
)
files_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Upload reference files.")


def register(app: typer.Typer) -> None:
    """Add the client commands to the `imagine` app."""
    app.command("models")(models)
    app.add_typer(generate_app, name="generate")
    app.add_typer(tasks_app, name="tasks")
    app.add_typer(files_app, name="files")


def models(base_url: BaseUrl = None, api_key: ApiKey = None, as_json: AsJson = False) -> None:
    """List the models and their credit prices."""
    with client(base_url, api_key) as gateway:
        found = gateway.models.list()
    if as_json:
        print_json([dump(m) for m in found])
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
    output: str,
    no_wait: bool,
    as_json: bool,
    timeout_s: float,
    base_url: str | None,
    api_key: str | None,
) -> None:
    params = parse_params(param or [])
    model_id = model or DEFAULT_MODELS[kind]
    # A bad output path fails here, before anything is uploaded, created or charged.
    target = None if no_wait else output_path(output)
    with client(base_url, api_key) as gateway:
        if ref:
            uploaded = [gateway.files.upload(path, model=model_id) for path in ref]
            params["referenceMediaItems"] = [f.as_reference() for f in uploaded]
        task = gateway.generations.create(model_id, prompt, params=params)
        if target is None:
            if as_json:
                print_json(dump(task))
            else:
                err.print(f"created {task.id} ({task.status}, {task.reserved_credits} credits reserved)")
                print(task.id)
            return
        if not as_json:
            err.print(f"created {task.id} ({task.reserved_credits} credits reserved)", highlight=False)
        done = wait_until_ended(gateway, task, timeout_s, live=not as_json)
        finish(gateway, done, target, as_json)


Prompt = Annotated[str, typer.Argument(help="What to generate", metavar="PROMPT")]
ModelOpt = Annotated[str | None, typer.Option(help="Model id (see `imagine models`)", metavar="MODEL")]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="A model parameter (repeat)", metavar="KEY=VALUE"),
]
RefOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--ref",
        help="A reference file to upload and use (repeat)",
        exists=True,
        dir_okay=False,
        metavar="FILE",
    ),
]


@generate_app.command("image")
def generate_image(
    prompt: Prompt,
    model: ModelOpt = None,
    param: ParamOpt = None,
    ref: RefOpt = None,
    output: OutputOpt = ".",
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
    output: OutputOpt = ".",
    no_wait: NoWait = False,
    timeout_s: WaitTimeout = 1800,
    as_json: AsJson = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Generate a video (default model grok-imagine-video): upload references, create the task, show
    its progress, download the result and print its path."""
    _generate("video", prompt, model, param, ref, output, no_wait, as_json, timeout_s, base_url, api_key)


@files_app.command("upload")
def files_upload(
    path: Annotated[
        Path,
        typer.Argument(help="Image, video or audio file", exists=True, dir_okay=False, metavar="FILE"),
    ],
    kind: Annotated[
        str | None, typer.Option(help="image, video or audio (default: from the name)", metavar="KIND")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Check the file against this model's limits", metavar="MODEL")
    ] = None,
    as_json: AsJson = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Upload a reference file; prints its id and URL."""
    started = time.monotonic()
    with client(base_url, api_key) as gateway:
        uploaded = gateway.files.upload(path, kind=kind, model=model)
    if as_json:
        print_json(dump(uploaded))
        return
    err.print(
        f"uploaded {uploaded.name} ({uploaded.mime_type}, {uploaded.size_bytes} bytes) "
        f"in {time.monotonic() - started:.1f} s",
        highlight=False,
    )
    out.print(f"{uploaded.id} {uploaded.url}", highlight=False, soft_wrap=True)
