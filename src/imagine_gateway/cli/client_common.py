"""What the client commands of `imagine` share: the client, errors, options, and reporting a task."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from imagine_gateway import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    Client,
    Generation,
    ImagineError,
    WaitTimeoutError,
)
from imagine_gateway.cli.output import OutputPathError, detail_lines, output_target

out = Console()
err = Console(stderr=True)

BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url", envvar="IMAGINE_BASE_URL", help="Gateway URL", show_envvar=True, metavar="URL"
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option("--api-key", envvar="IMAGINE_API_KEY", help="API key", show_envvar=True, metavar="KEY"),
]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output")]
TaskIdArg = Annotated[str, typer.Argument(help="Task id", metavar="TASK_ID")]

OUTPUT_HELP = (
    "Where to save the result: a file, or a directory (an existing one, or any path ending with /, "
    "created if missing) where it is named <task id>.<ext>"
)
OutputOpt = Annotated[str, typer.Option("--output", "-o", help=OUTPUT_HELP, metavar="PATH")]
NoWait = Annotated[bool, typer.Option("--no-wait", help="Print the task id and return at once")]
WaitTimeout = Annotated[
    float, typer.Option("--timeout", help="Give up waiting after this many seconds", metavar="SECONDS")
]


@contextmanager
def client(base_url: str | None, api_key: str | None) -> Iterator[Client]:
    """A client whose errors end the command with ``error <code>: <message>`` and exit status 1."""
    try:
        with Client(base_url=base_url, api_key=api_key) as opened:
            yield opened
    except APIStatusError as exc:
        fail(exc.code, exc.message, detail_lines(exc.message, exc.details))
    except APITimeoutError as exc:
        fail("timeout", exc.message)
    except APIConnectionError as exc:
        fail(
            "connection_error", f"{exc.message} (is the gateway running at {base_url or 'the default URL'}?)"
        )
    except WaitTimeoutError as exc:
        fail("wait_timeout", str(exc))
    except ImagineError as exc:
        fail(type(exc).__name__, str(exc))
    except (OSError, ValueError) as exc:
        fail("invalid_input", str(exc))


def fail(code: str, message: str, details: list[str] | None = None) -> NoReturn:
    """Print the error line (and any detail lines under it) on stderr and exit 1."""
    err.print(f"[red]error[/red] {escape(code)}: {escape(message)}", highlight=False, soft_wrap=True)
    for line in details or []:
        err.print(f"  {line}", highlight=False, soft_wrap=True, markup=False)
    raise typer.Exit(1)


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def dump(model: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_dump(mode="json")
    return dumped


def output_path(raw: str) -> Path:
    """The checked ``-o`` target; a bad one ends the command as ``invalid_output``."""
    try:
        return output_target(raw)
    except OutputPathError as exc:
        fail("invalid_output", str(exc))


def finish(gateway: Client, done: Generation, target: Path | None, as_json: bool) -> None:
    """Report an ended task: exit 1 unless it succeeded; download its result when there is a target.

    Without a target the result URLs are printed, one a line.
    """
    if done.status != "succeeded":
        if as_json:
            print_json(dump(done))
        error = done.error
        fail(error.code if error else done.status, error.message if error else f"task {done.status}")
    path = gateway.generations.download(done.id, target) if target is not None else None
    if as_json:
        print_json({**dump(done), **({"path": str(path)} if path is not None else {})})
    elif path is not None:
        print(path)
    else:
        err.print(f"{done.id} succeeded", highlight=False)
        for url in done.result.urls if done.result else []:
            print(url)
