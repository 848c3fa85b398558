"""The environment of an ``imagine worker`` process whose xAI upstream is a mock."""

from __future__ import annotations

from imagine_gateway.testing.mock_upstreams import RunningMock
from tests.providers.conftest import UPSTREAM_KEY

GRACE_S = 1.0


def worker_env(mock: RunningMock, *, grace_s: float = GRACE_S) -> dict[str, str]:
    """Variables for an ``imagine worker``: xAI at ``mock``, fast polls, a short grace period."""
    return {
        "XAI_API_KEY": UPSTREAM_KEY,
        "XAI_BASE_URL": mock.base_url,
        "IMAGINE_UPSTREAM_TIMEOUT_S": "120",
        "IMAGINE_POLL_FIRST_S": "0.1",
        "IMAGINE_POLL_MAX_INTERVAL_S": "0.2",
        "IMAGINE_SHUTDOWN_GRACE_S": str(grace_s),
    }
