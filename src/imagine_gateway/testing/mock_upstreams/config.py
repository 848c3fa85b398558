"""Settings of a mock upstream, mutable while it serves so a test can flip failure modes mid-run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

FailureMode = Literal[
    "none",
    "http_500",
    "http_429",
    "timeout",
    "garbage_json",
    "reset",
    "expired",
    "moderation",
    "moderation_failed",
    "failed",
]
"""How the mock misbehaves.

Request faults hit the requests that ``failure_on`` names (submit, poll or both):

- ``http_500``: the shape's 500 error body.
- ``http_429``: the shape's 429 error body with ``Retry-After: retry_after_s``.
- ``timeout``: no answer for ``hang_s`` seconds, then the request is served normally (so a submit the
  client gave up on still creates a job, as a slow real upstream would).
- ``garbage_json``: 200 with ``Content-Type: application/json`` and a truncated, unparsable body.
- ``reset``: the TCP connection is reset without any response.

Outcome faults decide how a job ends, the first time a poll sees it finished:

- ``failed``: the shape's failed state with an error code.
- ``expired``: xAI's ``expired`` status (shapes without one: see their module); media answers 404.
- ``moderation``: done, but the result is withheld (``respect_moderation`` false, empty URL).
- ``moderation_failed``: xAI's other form: ``failed`` with ``invalid_argument`` naming moderation
  (the xai shape only).
"""

FailOn = Literal["submit", "poll", "both"]

REQUEST_FAULTS: Final = frozenset({"http_500", "http_429", "timeout", "garbage_json", "reset"})
OUTCOME_FAULTS: Final = frozenset({"expired", "moderation", "moderation_failed", "failed"})


@dataclass
class MockConfig:
    """What a mock upstream expects and how it behaves; read on every request.

    ``fail_times`` limits a failure to the first N matching requests (request faults) or jobs
    (outcome faults) and then recovers; ``None`` fails forever. Changing ``failure``, ``failure_on``
    or ``fail_times`` starts a fresh count.
    """

    api_key: str = "test-key"
    generation_time_s: float = 2.0
    failure: FailureMode = "none"
    failure_on: FailOn = "submit"
    fail_times: int | None = None
    retry_after_s: int = 1
    hang_s: float = 300.0
    # Base of result URLs; None derives it from each request's Host header.
    public_base_url: str | None = None
    # xAI answers a pending poll with 202 and either this JSON body or no body at all.
    pending_body: bool = True
    # xai: a zero-data-retention team: a video request without output.upload_url is refused.
    require_output_upload: bool = False
    # xai_compatible: Dubrify's documented done body (no status, string fields) instead of xAI's.
    dubrify_style: bool = False
    # Video downloads are padded (with an MP4 ``free`` box, so they still decode) to at least this size.
    media_bytes: int | None = None
    # Serve this file for every video download instead of rendering one.
    media_file: Path | None = None
    # Deliver videos at most this long, whatever was asked (an upstream that returns a shorter clip):
    # the done body reports, and the usage bills, what was delivered (xai and xai_compatible shapes).
    video_duration_s: float | None = None
    # Render one file per size (and duration) and serve it for every job showing the first job's
    # prompt, so a benchmark downloading 10,000 results pays for one render, not 10,000.
    share_media: bool = False
    # Stream each result download at about this many bytes per second (a slow link), read when the
    # download starts, so a change affects later downloads only; None serves at full speed. A
    # throttled download answers the whole file (Range is not honoured then).
    media_bytes_per_s: int | None = None
    # grokimagineapi reports X-RateLimit-* against this many requests per window (not enforced).
    rate_limit: int = 1000
    rate_limit_window_s: int = 60
