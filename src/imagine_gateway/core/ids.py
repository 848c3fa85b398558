"""Opaque identifiers and API key material. Random, never sequential."""

from __future__ import annotations

import hashlib
import random
import secrets

KEY_PREFIX = "igw_sk_"
KEY_VISIBLE_CHARS = 12


def new_id(prefix: str) -> str:
    """``<prefix>_`` followed by 20 random url-safe characters (~120 bits)."""
    return f"{prefix}_{secrets.token_urlsafe(15)}"


def new_task_id() -> str:
    return new_id("task")


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
