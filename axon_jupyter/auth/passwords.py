"""argon2id password hashing, kept off the event loop.

Parameters are OWASP's floor for argon2id (19 MiB, 2 passes, 1 lane). A hash takes
tens of milliseconds of CPU, so it runs in a thread behind a small semaphore: a burst
of logins queues instead of starving every other request.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_slots = asyncio.Semaphore(2)
# Verified against when the email is unknown, so both answers cost the same time.
_DUMMY_HASH = _hasher.hash("axon-timing-equaliser")


def hash_password_sync(password: str) -> str:
    return _hasher.hash(password)


async def hash_password(password: str) -> str:
    async with _slots:
        return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """True only for a real hash that matches; an absent hash costs a full verify too."""
    async with _slots:
        return await asyncio.to_thread(_verify, stored, password)
