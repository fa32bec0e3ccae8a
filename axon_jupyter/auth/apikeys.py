"""API key material: 256 bits of randomness with a readable `axon_` prefix.

Only the SHA-256 of a key is stored (a fast hash is right here: the key has full
entropy, unlike a password), so a stolen database yields no usable key.
"""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "axon_"


def generate_key() -> tuple[str, str, str]:
    """Return (the key shown once, its display prefix, its stored hash)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[: len(KEY_PREFIX) + 6], hash_key(key)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_api_key(value: str) -> bool:
    return value.startswith(KEY_PREFIX)
