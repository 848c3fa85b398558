"""Result records: the JSON they are stored as, read back unchanged, and the storage keys they name."""

from __future__ import annotations

from imagine_gateway.core.records import Task
from imagine_gateway.core.results import StoredAsset, StoredResult, UpstreamResult, result_keys
from imagine_gateway.core.states import TaskState
from tests.core.test_transitions import task_in

STORED_JSON = {
    "assets": [
        {
            "key": "results/gen_1/0.mp4",
            "kind": "video",
            "mime_type": "video/mp4",
            "size_bytes": 1234,
            "sha256": "ab" * 32,
            "width": 640,
            "height": 360,
            "duration_seconds": 6.04,
            "poster_key": "results/gen_1/0.poster.jpg",
        },
        {
            "key": "results/gen_1/1.png",
            "kind": "image",
            "mime_type": "image/png",
            "size_bytes": 99,
            "sha256": "cd" * 32,
            "width": 64,
            "height": 64,
            "duration_seconds": None,
            "poster_key": None,
        },
    ]
}


def test_a_stored_result_reads_back_from_its_row_and_serializes_to_the_same_json() -> None:
    result = StoredResult.from_json(STORED_JSON)

    assert result.assets[0] == StoredAsset(
        key="results/gen_1/0.mp4",
        kind="video",
        mime_type="video/mp4",
        size_bytes=1234,
        sha256="ab" * 32,
        width=640,
        height=360,
        duration_s=6.04,
        poster_key="results/gen_1/0.poster.jpg",
    )
    assert result.to_json() == STORED_JSON
    assert StoredResult.from_json({**STORED_JSON, "expired": True}).to_json() == {
        **STORED_JSON,
        "expired": True,
    }


def test_the_result_keys_are_every_file_and_poster_in_order() -> None:
    assert result_keys(StoredResult.from_json(STORED_JSON)) == [
        "results/gen_1/0.mp4",
        "results/gen_1/0.poster.jpg",
        "results/gen_1/1.png",
    ]
    assert result_keys(None) == []


def test_a_task_row_gives_typed_results_and_the_task_gives_the_same_row_back() -> None:
    upstream = {"assets": [{"url": "u", "kind": "video", "mime_type": None, "duration_s": None}], "raw": {}}
    row = task_in(TaskState.SUCCEEDED).to_row() | {"result": STORED_JSON, "upstream_result": upstream}

    task = Task.from_row(row)

    assert isinstance(task.result, StoredResult) and isinstance(task.upstream_result, UpstreamResult)
    assert task.to_row() == row
