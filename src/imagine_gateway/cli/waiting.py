"""Waiting for a task from the command line: a live progress bar, and Ctrl-C offering to cancel."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.prompt import Confirm

from imagine_gateway import Client, Generation

EXIT_INTERRUPTED = 130

err = Console(stderr=True)


def wait_until_ended(client: Client, task: Generation, timeout_s: float, *, live: bool) -> Generation:
    """The task once it has ended (succeeded, failed or canceled).

    With ``live`` and a terminal on stderr, a progress bar (status, progress, elapsed time) and
    Ctrl-C offering to cancel; otherwise a quiet wait that Ctrl-C leaves with the task going on.
    """
    if task.is_terminal:
        return task
    if not (live and err.is_terminal):
        try:
            return _wait(client, task.id, timeout_s)
        except KeyboardInterrupt:
            _left_running(task.id)
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
            return _wait(client, task.id, timeout_s, show)
    except KeyboardInterrupt:
        return _offer_cancel(client, task.id)


def _wait(
    client: Client, task_id: str, timeout_s: float, show: Callable[[Generation], None] | None = None
) -> Generation:
    # A failed or canceled task comes back as the task, so the caller reports every ending alike.
    return client.generations.wait(task_id, timeout_s=timeout_s, on_progress=show, raise_on_failure=False)


def _describe(task: Generation) -> str:
    return f"{task.id} [bold]{task.status}[/bold]"


def _offer_cancel(client: Client, task_id: str) -> Generation:
    try:
        cancel = Confirm.ask(f"\nCancel task {task_id}?", console=err, default=True)
    except (KeyboardInterrupt, EOFError):
        cancel = False
    if not cancel:
        _left_running(task_id)
    canceled = client.generations.cancel(task_id)
    err.print(f"canceled {canceled.id}; its credits were released", highlight=False)
    raise typer.Exit(EXIT_INTERRUPTED)


def _left_running(task_id: str) -> NoReturn:
    err.print(f"{task_id} goes on; see it with: imagine tasks show {task_id}", highlight=False)
    raise typer.Exit(EXIT_INTERRUPTED)
