"""A lane: slots for one kind of worker step, refilled in batches."""

from __future__ import annotations

from imagine_gateway.worker.lanes import StepLane


def test_an_empty_lane_offers_all_its_slots_up_to_the_limit() -> None:
    lane = StepLane(size=8, refill_at=4)

    assert (lane.room(), lane.room(limit=3)) == (8, 3)


def test_a_lane_is_not_refilled_until_it_has_drained_to_its_refill_mark() -> None:
    lane = StepLane(size=8, refill_at=4)
    lane.started(8)

    rooms = [lane.room()]
    woke = [lane.finished() for _ in range(4)]  # 7, 6, 5, 4 running
    rooms.append(lane.room())

    assert (rooms, woke) == ([0, 4], [False, False, False, True])


def test_only_the_step_that_makes_room_after_a_refused_claim_wakes_the_claim_loop() -> None:
    lane = StepLane(size=2, refill_at=1)
    lane.started(1)

    assert (lane.room(), lane.finished()) == (1, False)  # never refused: nobody waits to be woken
    lane.started(2)
    assert (lane.room(), lane.finished(), lane.finished()) == (0, True, False)
