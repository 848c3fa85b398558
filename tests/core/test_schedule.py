"""The poll schedule: when the worker looks at an upstream job again."""

from __future__ import annotations

import pytest

from imagine_gateway.core.schedule import jittered, poll_delay_s


def test_a_video_is_first_polled_after_two_seconds_then_ever_more_slowly_up_to_ten() -> None:
    delays = [poll_delay_s(attempt, output="video") for attempt in range(8)]

    assert delays == pytest.approx([2.0, 5.0, 6.25, 7.8125, 9.765625, 10.0, 10.0, 10.0])


def test_images_start_faster_long_videos_slower_and_old_jobs_every_thirty_seconds() -> None:
    assert poll_delay_s(1, output="image") == 3.0
    assert poll_delay_s(1, output="video", duration_s=20) == 8.0
    assert poll_delay_s(9, output="video", duration_s=20) == 15.0
    assert poll_delay_s(3, output="video", age_s=600) == 30.0


@pytest.mark.parametrize(("draw", "expected"), [(0.0, 9.0), (0.25, 9.5), (0.5, 10.0), (0.999, 10.998)])
def test_jitter_moves_a_delay_by_at_most_a_tenth_either_way(draw: float, expected: float) -> None:
    assert jittered(10.0, draw) == pytest.approx(expected)
