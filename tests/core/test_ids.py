"""Task ids sort in the order they were made: by their millisecond, and within one by the order of
the calls, so lists ordered by (created_at, id) show a client's creates one after another in order."""

from __future__ import annotations

from imagine_gateway.core.ids import new_task_id

NOW_MS = 1_796_400_000_000  # a millisecond no real clock of the suite is at


def test_ids_made_in_one_millisecond_sort_in_the_order_they_were_made() -> None:
    ids = [new_task_id(NOW_MS) for _ in range(2000)]

    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert {len(i) for i in ids} == {25}
    assert {i[:12] for i in ids} == {ids[0][:12]}  # all of them begin with that millisecond


def test_an_id_begins_with_its_millisecond_and_a_later_one_sorts_after() -> None:
    first, second = new_task_id(NOW_MS + 20), new_task_id(NOW_MS + 20)
    later = new_task_id(NOW_MS + 21)

    assert first[:12] == second[:12] != later[:12]
    assert first < second < later
    assert new_task_id(NOW_MS + 19) < first  # an earlier millisecond sorts before, whatever came last
