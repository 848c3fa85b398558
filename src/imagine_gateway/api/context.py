"""Everything a request handler needs: the runtime's parts and what only the HTTP API uses."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from imagine_gateway.api.ratelimit import RateLimiter
from imagine_gateway.runtime import Context


@dataclass(kw_only=True)
class AppContext(Context):
    """The runtime's context plus the per-key rate limiter."""

    limiter: RateLimiter
    # Response bodies that never change while the process runs (the catalog), rendered once.
    documents: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def serving(cls, context: Context, *, limiter: RateLimiter) -> AppContext:
        """The API's view of ``context``: the same parts, not copies of them."""
        return cls(**{f.name: getattr(context, f.name) for f in fields(Context)}, limiter=limiter)
