"""Mock upstreams: real HTTP servers speaking the wire shapes the gateway talks to, failures included.

Kinds: ``xai`` (xAI's REST API), ``xai_compatible`` (the relays and Dubrify), ``grokimagineapi``
(grokimagineapi.com) and ``rivya`` (our native shape, so gateways can chain). Results are real media files.

    with start_mock("xai", MockConfig(generation_time_s=0.2)) as upstream:
        ...  # point a client at upstream.base_url with "Authorization: Bearer test-key"
        upstream.mock.config.failure = "http_429"  # flip behaviour mid-run
        upstream.mock.stats.by_job  # requests per job

By hand: ``imagine mock-upstream xai --port 9100`` (``run_mock``). A mock in another process is
read and steered over HTTP: ``GET /_mock/stats``, ``GET``/``PATCH /_mock/config`` (see ``control``).
Benchmarks: ``share_media`` (one render per size) or ``media_file``, and ``media_bytes`` for big files;
``media_bytes_per_s`` for slow downloads.
"""

from __future__ import annotations

from imagine_gateway.testing.mock_upstreams.config import FailOn, FailureMode, MockConfig
from imagine_gateway.testing.mock_upstreams.server import (
    KINDS,
    RunningMock,
    create_mock_app,
    run_mock,
    start_mock,
)
from imagine_gateway.testing.mock_upstreams.state import Job, MockStats, MockUpstream, ReceivedRequest

__all__ = [
    "KINDS",
    "FailOn",
    "FailureMode",
    "Job",
    "MockConfig",
    "MockStats",
    "MockUpstream",
    "ReceivedRequest",
    "RunningMock",
    "create_mock_app",
    "run_mock",
    "start_mock",
]
