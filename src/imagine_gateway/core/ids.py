"""Opaque identifiers and API key material: random, never sequential, except that a task's id
begins with its creation time (``new_task_id``)."""

from __future__ import annotations

import hashlib
import random
import secrets
import threading

KEY_PREFIX = "igw_sk_"
KEY_VISIBLE_CHARS = 12


def new_id(prefix: str) -> str:
    """``<prefix>_`` followed by 20 random url-safe characters (~120 bits)."""
    return f"{prefix}_{secrets.token_urlsafe(15)}"


# base64url's characters in ASCII order, so that ids made later sort after earlier ones.
_SORTED_ALPHABET = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
_STAMP_BITS = 42  # milliseconds: 139 years from 1970 before it wraps (ids stay unique after)
_RANDOM_BITS = 78
_STEP_BITS = 48  # of the random step between two ids of one millisecond: still unguessable


class _Increasing:
    """The last task id's value in this process, so that the next one of its millisecond sorts
    after it."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()  # ids are made on the event loop and on worker threads

    def after_last(self, value: int) -> int:
        with self._lock:
            last = self._last
            if value >> _RANDOM_BITS == last >> _RANDOM_BITS and value <= last:
                value = last + 1 + secrets.randbits(_STEP_BITS)
            self._last = value
        return value


_task_values = _Increasing()


def new_task_id(now_ms: int) -> str:
    """``task_`` and 20 characters: the creation millisecond in the first 7, then 78 random bits.

    Ids made later sort after earlier ones, so a new task's id lands at the end of every index
    that holds it (the tasks' own, the ledger's) rather than on a random page of each, which a
    write would then have to copy to the log: a create writes about a third fewer bytes. Within a
    process that holds within one millisecond too (an id made in the same millisecond as the one
    before it, and random bits no larger, is that one plus a random step), so a client's creates
    one after another list in the order it made them: lists order by creation time, then id, and a
    fast gateway makes several in a millisecond."""
    stamped = (now_ms % (1 << _STAMP_BITS)) << _RANDOM_BITS | secrets.randbits(_RANDOM_BITS)
    value = _task_values.after_last(stamped)
    chars = [_SORTED_ALPHABET[(value >> shift) & 63] for shift in range(114, -1, -6)]
    return "task_" + "".join(chars)


def new_request_id() -> str:
    # A label for logs and support, not a secret: Python's generator (reseeded in every forked
    # process) instead of a system call per request.
    return f"req_{random.getrandbits(96):024x}"


def new_api_key() -> str:
    """A fresh secret API key; shown to its owner once."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(secret: str) -> str:
    """What the store keeps instead of the key. Keys have 256 bits of entropy, so a fast hash is safe."""
    return hashlib.sha256(secret.encode()).hexdigest()


def visible_prefix(secret: str) -> str:
    return secret[: len(KEY_PREFIX) + KEY_VISIBLE_CHARS]
