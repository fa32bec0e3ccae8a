"""The rate limiter's cost per request and its memory, beside the floors it cannot beat.

Runs `RateLimiter.hit()` (the call every authenticated REST request, GraphQL operation
and WebSocket message makes) in-process, many times, in several runs, and prints the
median cost per call next to:
- a dict floor: the least any per-user limiter does (read and write one dict entry);
- a clock floor: `time.monotonic_ns()`, which every hit calls once.
Also: the state kept for 100k active users, and that 1M distinct users stay bounded.

    python benchmarks/ratelimit.py [--calls 200000] [--runs 7]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import median, table

from axon_jupyter.auth.ratelimit import RateLimiter
from axon_jupyter.models import User


def users(n: int) -> list[User]:
    return [
        User(id=f"user_{i:08x}", email=f"u{i}@x.y", name="u", password_hash=None) for i in range(n)
    ]


def per_call_ns(fn, population: list[User], calls: int, runs: int) -> float:
    """Median over `runs` of (total time / calls), cycling through `population`."""
    sequence = [population[i % len(population)] for i in range(calls)]
    results = []
    for _ in range(runs):
        gc.collect()
        gc.disable()
        start = time.perf_counter_ns()
        for user in sequence:
            fn(user)
        elapsed = time.perf_counter_ns() - start
        gc.enable()
        results.append(elapsed / calls)
    return median(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    rows = []
    for label, population in [("1 hot user", users(1)), ("10,000 users", users(10_000))]:
        # a budget large enough that every call is allowed (the common path)
        limiter = RateLimiter({"standard": 10**9}, window=3600.0)
        hit = per_call_ns(limiter.hit, population, args.calls, args.runs)
        counts: dict[str, int] = {}

        def dict_floor(user: User, counts=counts) -> None:
            counts[user.id] = counts.get(user.id, 0) + 1

        floor = per_call_ns(dict_floor, population, args.calls, args.runs)
        clock = per_call_ns(lambda _u: time.monotonic_ns(), population, args.calls, args.runs)
        rows.append(
            [
                label,
                f"{hit / 1000:.2f}",
                f"{floor / 1000:.2f}",
                f"{clock / 1000:.2f}",
                f"{hit / floor:.1f}x",
            ]
        )
    # refused calls (over the limit) take the other branch
    limiter = RateLimiter({"standard": 1}, window=3600.0)
    one = users(1)
    limiter.hit(one[0])
    refused = per_call_ns(limiter.hit, one, args.calls, args.runs)
    rows.append(["1 user, every call refused", f"{refused / 1000:.2f}", "", "", ""])
    print(
        table(
            "Rate limiter: cost per request (median of runs, microseconds)",
            ["case", "limiter.hit()", "dict floor", "clock floor", "hit / dict"],
            rows,
        )
    )

    # memory: state of 100k users active within the window, and the bound for 1M
    tracemalloc.start()
    limiter = RateLimiter(window=3600.0)
    population = users(100_000)
    before = tracemalloc.get_traced_memory()[0]
    for user in population:
        limiter.hit(user)
    per_user = (tracemalloc.get_traced_memory()[0] - before) / len(population)
    tracemalloc.stop()
    bounded = RateLimiter(window=3600.0, max_users=100_000)
    for user in users(1_000_000):
        bounded.hit(user)
    print()
    print(
        table(
            "Rate limiter: memory",
            ["case", "value"],
            [
                ["state per active user (bytes, incl. dict slot)", f"{per_user:.0f}"],
                ["entries after 1,000,000 distinct users (max_users=100,000)", f"{len(bounded):,}"],
            ],
        )
    )
    print(f"\n{args.runs} runs of {args.calls:,} calls each; Python {sys.version.split()[0]}.")


if __name__ == "__main__":
    main()
