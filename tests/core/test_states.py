"""A stored state, read as the plain string a row holds, has the public status and end-ness of its
TaskState; a stored instant is written as Rivya's ISO timestamp, to the millisecond."""

from __future__ import annotations

from imagine_gateway.core.states import TERMINAL, TaskState, is_terminal_state, public_status
from imagine_gateway.core.timefmt import iso_ms


def test_a_state_as_stored_has_the_status_and_end_of_its_task_state() -> None:
    assert {s.value: (public_status(s.value), is_terminal_state(s.value)) for s in TaskState} == {
        "queued": ("queued", False),
        "submitting": ("processing", False),
        "processing": ("processing", False),
        "collecting": ("processing", False),
        "succeeded": ("succeeded", True),
        "failed": ("failed", True),
        "canceled": ("canceled", True),
    }
    assert all(is_terminal_state(s) == (s in TERMINAL) == s.is_terminal for s in TaskState)


def test_instants_are_written_to_the_millisecond_however_often_they_are_asked_for() -> None:
    instants = [0, 999, 1_000, 1_796_154_712_838, 1_796_154_712_838, 1_796_154_712_001, None]

    assert [iso_ms(i) for i in instants] == [
        "1970-01-01T00:00:00.000Z",
        "1970-01-01T00:00:00.999Z",
        "1970-01-01T00:00:01.000Z",
        "2026-12-01T19:51:52.838Z",
        "2026-12-01T19:51:52.838Z",
        "2026-12-01T19:51:52.001Z",
        None,
    ]
