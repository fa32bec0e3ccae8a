"""Per-user request budgets: GCRA (the generic cell rate algorithm) kept in memory.

Why GCRA: a fixed window lets twice the limit through around its edge (a full budget at
the end of one window, another at the start of the next). GCRA spaces the budget evenly:
each request moves the user's "theoretical arrival time" (TAT) forward by one emission
interval T = window / limit, and a request is refused while TAT would run more than one
window ahead of now. A user may burst up to `limit` at once, then gets one request per T;
in any short interval around any instant no more than `limit` plus what was earned in
that interval passes.

The state is one integer per user (their TAT, in monotonic nanoseconds). An entry whose
TAT is in the past means "full budget", exactly like a missing one, so idle users are
dropped without changing any answer; memory is bounded by `max_users` (see `_sweep`).
Integer nanoseconds keep the arithmetic exact: no float drift at the budget's edge.

One instance serves every transport (REST in api/base.py, GraphQL operations, WebSocket
messages) so the limit follows the user whichever credential or protocol is used.
Call it on the event loop (it takes no lock). Nothing here imports tornado.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Mapping
from typing import NamedTuple

from ..models import User

NS = 1_000_000_000
DEFAULT_PLAN_LIMITS: dict[str, int] = {"standard": 1000, "pro": 10000, "enterprise": 100000}


class Decision(NamedTuple):
    """The answer to one `hit`: allowed or not, and what the response headers say.
    (A NamedTuple: built on every request, it must cost next to nothing.)"""

    allowed: bool
    limit: int
    remaining: int
    reset: int  # unix seconds at which the full budget is available again
    retry_after: int  # whole seconds until a request would pass (0 when allowed)

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


class RateLimiter:
    """`hit(user)` counts one request against the user's budget and says what is left."""

    def __init__(
        self,
        plan_limits: Mapping[str, int] | None = None,
        *,
        window: float = 3600.0,
        enabled: bool = True,
        max_users: int = 100_000,
        sweep_interval: float = 60.0,
        clock: Callable[[], int] = time.monotonic_ns,
        wall_clock: Callable[[], float] = time.time,
    ):
        limits = {**DEFAULT_PLAN_LIMITS, **(plan_limits or {})}
        for plan, limit in limits.items():
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
                raise ValueError(f"rate limit for plan {plan!r} must be a positive integer")
        if window <= 0:
            raise ValueError("rate_limit_window must be positive")
        self.plan_limits = limits
        self.window_ns = int(window * NS)
        self.enabled = enabled
        self.max_users = max_users
        self._sweep_ns = int(sweep_interval * NS)
        self._clock = clock
        self._wall = wall_clock
        self._tat: dict[str, int] = {}
        self._next_sweep = clock() + self._sweep_ns
        self._wall_offset = self._offset()

    def limit_for(self, user: User) -> int:
        """The user's own override when set, else their plan's budget per window."""
        if user.rate_limit is not None and user.rate_limit > 0:
            return user.rate_limit
        return self.plan_limits.get(user.plan) or self.plan_limits["standard"]

    def hit(self, user: User, cost: int = 1) -> Decision | None:
        """Count `cost` requests for `user` now; refused requests cost nothing.

        None when rate limiting is switched off (trait `rate_limit_enabled`)."""
        if not self.enabled:
            return None
        limit = user.rate_limit  # limit_for(), inlined: this runs on every request
        if limit is None or limit < 1:
            limit = self.plan_limits.get(user.plan) or self.plan_limits["standard"]
        now = self._clock()
        if now >= self._next_sweep or len(self._tat) > self.max_users:
            self._sweep(now)
        interval = self.window_ns // limit
        tat = self._tat.get(user.id, now)
        if tat < now:
            tat = now
        new_tat = tat + interval * cost
        allow_at = new_tat - interval * limit  # one window (in whole intervals) ahead
        if allow_at > now:
            return Decision(
                False, limit, 0, self._unix(now, tat), max(1, -(-(allow_at - now) // NS))
            )
        self._tat[user.id] = new_tat
        return Decision(True, limit, (now - allow_at) // interval, self._unix(now, new_tat), 0)

    def peek(self, user: User) -> Decision:
        """The user's state without counting a request (for status displays)."""
        limit = self.limit_for(user)
        now = self._clock()
        interval = self.window_ns // limit
        tat = max(self._tat.get(user.id, now), now)
        return Decision(
            allowed=tat - now + interval <= interval * limit,
            limit=limit,
            remaining=max(0, (interval * limit - (tat - now)) // interval),
            reset=self._unix(now, tat),
            retry_after=0,
        )

    def reset_user(self, user_id: str) -> None:
        """Forget a user's usage (their budget is full again), e.g. after a plan change."""
        self._tat.pop(user_id, None)

    def __len__(self) -> int:
        return len(self._tat)

    def _offset(self) -> int:
        """Wall clock minus monotonic clock, in ns (refreshed at every sweep)."""
        return int(self._wall() * NS) - self._clock()

    def _unix(self, now: int, at: int) -> int:
        """Monotonic `at` as unix seconds, rounded up."""
        return -(-(at + self._wall_offset) // NS)

    def _sweep(self, now: int) -> None:
        """Drop users whose budget is full again (lossless); if still over `max_users`,
        drop those closest to a full budget (the smallest loss of accounting)."""
        self._next_sweep = now + self._sweep_ns
        self._wall_offset = self._offset()
        self._tat = {uid: tat for uid, tat in self._tat.items() if tat > now}
        excess = len(self._tat) - int(self.max_users * 0.9)
        if excess > 0:
            for uid, _ in heapq.nsmallest(excess, self._tat.items(), key=lambda kv: kv[1]):
                del self._tat[uid]
