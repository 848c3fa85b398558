"""`imagine tasks`: list, show, wait for, cancel and download generation tasks."""

from __future__ import annotations

import itertools
from typing import Annotated, Any

import typer
from rich.table import Column, Table

from imagine_gateway.cli.client_common import (
    OUTPUT_HELP,
    ApiKey,
    AsJson,
    BaseUrl,
    OutputOpt,
    TaskIdArg,
    WaitTimeout,
    client,
    dump,
    finish,
    out,
    output_path,
    print_json,
)
from imagine_gateway.cli.waiting import wait_until_ended

tasks_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="List, show, wait for, cancel and download tasks."
)


@tasks_app.command("ls")
def tasks_ls(
    status: Annotated[
        str | None,
        typer.Option(help="queued, processing, succeeded, failed or canceled", metavar="STATUS"),
    ] = None,
    model: Annotated[str | None, typer.Option(help="Only this model", metavar="MODEL")] = None,
    limit: Annotated[int, typer.Option(help="At most this many tasks", metavar="N")] = 20,
    as_json: AsJson = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """List tasks, newest first."""
    with client(base_url, api_key) as gateway:
        found = list(itertools.islice(gateway.generations.list(status=status, model=model), limit))
    if as_json:
        print_json([dump(t) for t in found])
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
    task_id: TaskIdArg,
    as_json: AsJson = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Show one task."""
    with client(base_url, api_key) as gateway:
        task = gateway.generations.retrieve(task_id)
    if as_json:
        print_json(dump(task))
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
    task_id: TaskIdArg,
    as_json: AsJson = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Cancel a queued or processing task (its credits are released)."""
    with client(base_url, api_key) as gateway:
        task = gateway.generations.cancel(task_id)
    if as_json:
        print_json(dump(task))
    else:
        out.print(f"canceled {task.id}", highlight=False)


@tasks_app.command("download")
def tasks_download(
    task_id: TaskIdArg,
    output: OutputOpt = ".",
    index: Annotated[int, typer.Option(help="Which result, when there are several", metavar="N")] = 0,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Download a succeeded task's result and print its path."""
    target = output_path(output)
    with client(base_url, api_key) as gateway:
        path = gateway.generations.download(task_id, target, index=index)
    print(path)


@tasks_app.command("wait")
def tasks_wait(
    task_id: TaskIdArg,
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help=OUTPUT_HELP + "; default: print its URLs", metavar="PATH"),
    ] = None,
    timeout_s: WaitTimeout = 1800,
    as_json: AsJson = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Wait for a task to end, showing its progress; exit 1 if it failed or was canceled.

    Prints the result's URLs, or with -o downloads it and prints its path.
    """
    target = None if output is None else output_path(output)
    with client(base_url, api_key) as gateway:
        task = gateway.generations.retrieve(task_id)
        done = wait_until_ended(gateway, task, timeout_s, live=not as_json)
        finish(gateway, done, target, as_json)
