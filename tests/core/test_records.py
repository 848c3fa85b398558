"""Records read from rows are the records their constructor makes: equal, frozen, with
their defaults, and a row that lacks a required column is refused by name."""

from __future__ import annotations

import dataclasses

import pytest

from imagine_gateway.core.records import ApiKey, Task
from imagine_gateway.core.results import ResultAsset, UpstreamResult
from tests.tasks import new_task


def a_task() -> Task:
    return new_task(api_key_id="key_1").task


def test_a_task_read_from_its_row_is_the_task() -> None:
    task = dataclasses.replace(
        a_task(),
        upstream_result=UpstreamResult(raw={"id": "up_1"}, assets=(ResultAsset("https://x/a.mp4", "video"),)),
    )
    row = {**task.to_row(), "not_a_field": "ignored"}

    read = Task.from_row(row)

    assert read == task and repr(read) == repr(task)
    assert read.upstream_result == task.upstream_result
    with pytest.raises(dataclasses.FrozenInstanceError):
        read.state = "failed"  # type: ignore[misc]


def test_missing_columns_take_their_defaults_or_are_refused_by_name() -> None:
    row = {k: v for k, v in a_task().to_row().items() if k not in ("upstream_credential", "billing_reason")}
    assert Task.from_row(row) == a_task()

    key = ApiKey.from_row(
        {"id": "key_1", "account_id": "a", "name": "n", "prefix": "p", "scopes": [], "created_at": 1}
    )
    assert (key.rate_limit, key.spent_total, key.models) == (None, 0, None)

    with pytest.raises(TypeError, match="'prompt'"):
        Task.from_row({k: v for k, v in row.items() if k != "prompt"})


def test_a_task_from_a_whole_row_of_columns_is_the_task_its_row_makes() -> None:
    task = dataclasses.replace(
        a_task(),
        upstream_result=UpstreamResult(raw={"id": "up_1"}, assets=(ResultAsset("https://x/a.mp4", "video"),)),
    )

    read = Task.from_columns(task.to_row())

    assert read == task == Task.from_row(task.to_row()) and repr(read) == repr(task)
    with pytest.raises(dataclasses.FrozenInstanceError):
        read.state = "failed"  # type: ignore[misc]


def test_a_record_made_or_evolved_is_the_record_its_constructor_and_replace_make() -> None:
    task = a_task()

    assert Task.make(**task.to_row()) == task
    evolved = task.evolve(state="processing", fence=task.fence + 1)
    assert evolved == dataclasses.replace(task, state="processing", fence=task.fence + 1)
    assert repr(evolved) == repr(dataclasses.replace(task, state="processing", fence=task.fence + 1))
    assert (task.state, task.fence) == ("queued", 0)  # the original is untouched
    with pytest.raises(dataclasses.FrozenInstanceError):
        evolved.state = "failed"  # type: ignore[misc]
    with pytest.raises(TypeError, match="'colour'"):
        task.evolve(colour="red")
    with pytest.raises(TypeError, match="'colour'"):
        Task.make(**task.to_row(), colour="red")
    with pytest.raises(TypeError, match="'account_id'"):
        ApiKey.make(id="key_1")
