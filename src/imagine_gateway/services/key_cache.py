"""API keys this process has checked, kept for a bounded time and forgotten at once when they change.

Every authenticated request needs its key's row (account, scopes, limit, expiry, revocation). Read
from the database each time, that row costs as much as the request's own work. The cache keeps it
by the secret's hash, for at most ``max_age_s``:

- a change made through this process (``AccountService.changed``, the hook of every mutation)
  forgets the entries at once;
- a change made in another process reaches this one through the event bus (Redis in scale-out) and
  forgets them as soon as it arrives;
- a change no event can reach (``imagine keys revoke`` on SQLite with no Redis, a notice Redis lost)
  is seen after ``max_age_s`` at the latest: that is the bound on a revoked key still working.

Expiry is checked on every request against the clock, from the cached row, so it stays exact.
A read that began before a change and ends after it is not stored (the ``generation`` check), so a
stale row can never be put back after it was forgotten.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from imagine_gateway.core.records import ApiKey
from imagine_gateway.delivery.events import AccessChanged

Credential = tuple[ApiKey, int | None]  # the key, and when its account was disabled (None: enabled)


class KeyCache:
    """secret hash -> (credential, when it was read); bounded in age and in size."""

    def __init__(
        self, *, max_age_s: float, max_entries: int = 10_000, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_age_s = max_age_s
        self.max_entries = max_entries
        self._now = now
        self._entries: dict[str, tuple[Credential, float]] = {}
        self.generation = 0  # moves on every forget: a read begun before it is not stored

    @property
    def enabled(self) -> bool:
        return self.max_age_s > 0

    def get(self, secret_hash: str) -> Credential | None:
        """The credential read for this hash less than ``max_age_s`` ago, or None."""
        entry = self._entries.get(secret_hash)
        if entry is None:
            return None
        credential, read_at = entry
        if self._now() - read_at >= self.max_age_s:
            del self._entries[secret_hash]
            return None
        return credential

    def put(self, secret_hash: str, credential: Credential, *, generation: int, read_at: float) -> None:
        """Keep ``credential`` unless something was forgotten since the read began (``generation``)."""
        if not self.enabled or generation != self.generation:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # rare (more live keys than entries); the next requests re-read
        self._entries[secret_hash] = (credential, read_at)

    def clock(self) -> float:
        return self._now()

    def forget(self, change: AccessChanged) -> None:
        """Drop the entries of the key or account ``change`` names (every entry when it names none)."""
        self.generation += 1
        if change.key_id is None and change.account_id is None:
            self._entries.clear()
            return
        stale = [
            secret_hash
            for secret_hash, ((key, _), _) in self._entries.items()
            if key.id == change.key_id or key.account_id == change.account_id
        ]
        for secret_hash in stale:
            del self._entries[secret_hash]

    def __len__(self) -> int:
        return len(self._entries)
