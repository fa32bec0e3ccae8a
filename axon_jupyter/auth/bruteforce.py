"""Brute-force protection for password sign-in and the OAuth token endpoint.

Each attempt is keyed twice: by the account it targets (an email, or an OAuth client id)
and by the client address it comes from. After `account_attempts` failures in a row on an
account (or `address_attempts` from one address) further attempts are refused with 429
and Retry-After for a lockout that doubles with every further failure, from
`lockout` seconds up to `max_lockout`.

Why it is shaped like this:
- An attempt is counted *before* the password is checked, and checking and counting
  happen with no await in between, so a thousand parallel guesses cannot all slip
  through while the first ones are still being verified. A success wipes the count.
- The lockout is bounded (`max_lockout`) and failures are forgotten after `forget_after`
  seconds of quiet: an attacker can slow a victim's sign-in down but never lock the
  account for good; the address key makes the attacker's own address pay first.
- While a key is locked even the right password is refused: otherwise guessing would
  just continue at full speed with the lock ignored.
- Memory is bounded: at most `max_entries` keys, the least recently seen dropped first.

Nothing here imports tornado; callers pass the address as a string.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import RateLimited

ACCOUNT = "account"
ADDRESS = "address"


@dataclass(slots=True)
class _Record:
    failures: int = 0
    locked_until: float = 0.0
    last_seen: float = 0.0


class BruteForceGuard:
    def __init__(
        self,
        *,
        account_attempts: int = 5,
        address_attempts: int = 20,
        lockout: float = 1.0,
        max_lockout: float = 300.0,
        forget_after: float = 3600.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        if account_attempts < 1 or address_attempts < 1:
            raise ValueError("brute-force attempt thresholds must be at least 1")
        if lockout <= 0 or max_lockout < lockout:
            raise ValueError("need 0 < bruteforce_lockout <= bruteforce_max_lockout")
        self.thresholds = {ACCOUNT: account_attempts, ADDRESS: address_attempts}
        self.lockout = lockout
        self.max_lockout = max_lockout
        self.forget_after = max(forget_after, max_lockout)
        self.max_entries = max_entries
        self._clock = clock
        self._records: OrderedDict[tuple[str, str, str], _Record] = OrderedDict()

    @staticmethod
    def keys(scope: str, account: str | None, address: str | None) -> list[tuple[str, str, str]]:
        """The keys of one attempt: (scope, kind, value); scope separates e.g. "login"
        accounts (emails) from "oauth" accounts (client ids)."""
        out = []
        if account:
            out.append((scope, ACCOUNT, account.strip().lower()))
        if address:
            out.append(("any", ADDRESS, address))
        return out

    def begin(self, keys: list[tuple[str, str, str]]) -> None:
        """Refuse (RateLimited) if any key is locked; else count this attempt as a failure
        until `succeeded` says otherwise."""
        now = self._clock()
        wait = 0.0
        for key in keys:
            record = self._get(key, now)
            if record is not None and record.locked_until > now:
                wait = max(wait, record.locked_until - now)
        if wait > 0:
            retry = max(1, math.ceil(wait - 1e-6))  # whole seconds, float noise aside
            raise RateLimited(
                retry,
                message="Too many failed attempts; try again later",
                details={"reason": "too_many_failures", "retry_after": retry},
            )
        for key in keys:
            record = self._get(key, now) or self._add(key)
            record.failures += 1
            record.last_seen = now
            excess = record.failures - self.thresholds[key[1]]
            if excess >= 0:
                record.locked_until = now + min(self.lockout * 2.0**excess, self.max_lockout)

    def succeeded(self, keys: list[tuple[str, str, str]]) -> None:
        """The attempt proved the secret: its keys start from a clean slate."""
        for key in keys:
            self._records.pop(key, None)

    def retry_after(self, keys: list[tuple[str, str, str]]) -> float:
        """Seconds until every key accepts attempts again (0: not locked)."""
        now = self._clock()
        waits = [r.locked_until - now for k in keys if (r := self._get(k, now)) is not None]
        return max([0.0, *waits])

    def __len__(self) -> int:
        return len(self._records)

    def _get(self, key: tuple[str, str, str], now: float) -> _Record | None:
        record = self._records.get(key)
        if record is None:
            return None
        if now - record.last_seen > self.forget_after and record.locked_until <= now:
            del self._records[key]
            return None
        self._records.move_to_end(key)
        return record

    def _add(self, key: tuple[str, str, str]) -> _Record:
        while len(self._records) >= self.max_entries:
            self._records.popitem(last=False)
        record = self._records[key] = _Record()
        return record
