"""The GCRA limiter itself, on a controlled clock: budgets, edges, memory bounds.

Timing on a shared CI machine is not precise enough to prove an edge property through
HTTP, so these drive `RateLimiter` with an explicit clock; tests/test_ratelimit.py shows
the same limiter at work in the real server.
"""

import pytest

from axon_jupyter.auth.ratelimit import NS, RateLimiter
from axon_jupyter.models import User


class Clock:
    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> int:
        return int(self.now * NS)

    def wall(self) -> float:
        return 1_700_000_000 + self.now


def user(uid: str = "user_a", plan: str = "standard", rate_limit: int | None = None) -> User:
    return User(
        id=uid, email=f"{uid}@x.y", name=uid, password_hash=None, plan=plan, rate_limit=rate_limit
    )


def limiter(clock: Clock, limit: int = 10, window: float = 10.0, **kw) -> RateLimiter:
    return RateLimiter({"standard": limit}, window=window, clock=clock, wall_clock=clock.wall, **kw)


def test_a_full_budget_then_exactly_one_more_per_interval():
    clock = Clock()
    rl = limiter(clock, limit=10, window=10.0)  # one request per second sustained
    answers = [rl.hit(user()) for _ in range(11)]
    assert [a.allowed for a in answers] == [True] * 10 + [False]
    assert [a.remaining for a in answers[:10]] == list(range(9, -1, -1))
    refused = answers[-1]
    assert refused.remaining == 0 and refused.retry_after == 1 and refused.limit == 10
    # the reset is when the whole budget is back: one window after the burst
    assert answers[9].reset == int(clock.wall() + 10)
    # refused requests cost nothing: after one interval exactly one passes
    clock.now += 1.0
    assert rl.hit(user()).allowed
    assert not rl.hit(user()).allowed


def test_the_window_edge_never_lets_twice_the_limit_through():
    """A fixed window [0,10) [10,20) would allow 10 at t=9.9 and 10 more at t=10.1."""
    clock = Clock(start=0.0)
    rl = limiter(clock, limit=10, window=10.0)
    clock.now = 9.9
    before = sum(rl.hit(user()).allowed for _ in range(10))
    clock.now = 10.1
    after = sum(rl.hit(user()).allowed for _ in range(10))
    assert before == 10
    assert after == 0  # 0.2 s earned less than one 1-second interval
    # in any span of s seconds after a burst, at most s/T more pass
    clock.now = 13.95
    assert sum(rl.hit(user()).allowed for _ in range(10)) == 4


def test_sustained_rate_is_the_limit_per_window():
    clock = Clock(start=0.0)
    rl = limiter(clock, limit=10, window=10.0)
    allowed = 0
    for _ in range(6000):  # hammer every 10 ms for 60 s
        allowed += rl.hit(user()).allowed
        clock.now += 0.01
    # the initial burst (10) plus one per second for 60 s, nothing more
    assert 69 <= allowed <= 70


def test_full_budget_again_after_a_quiet_window():
    clock = Clock()
    rl = limiter(clock, limit=5, window=60.0)
    for _ in range(5):
        rl.hit(user())
    assert not rl.hit(user()).allowed
    clock.now += 60.0
    first = rl.hit(user())
    assert first.allowed and first.remaining == 4


def test_users_have_separate_budgets_and_overrides():
    clock = Clock()
    rl = RateLimiter({"standard": 2, "pro": 5}, window=10.0, clock=clock, wall_clock=clock.wall)
    assert rl.hit(user("a")).limit == 2
    assert rl.hit(user("b", plan="pro")).limit == 5
    assert rl.hit(user("c", rate_limit=7)).limit == 7  # the per-user override wins
    assert rl.hit(user("d", plan="enterprise")).limit == 100000  # default enterprise budget
    assert rl.hit(user("e", plan="unknown")).limit == 2  # unknown plans get standard
    for _ in range(1):
        rl.hit(user("a"))
    assert not rl.hit(user("a")).allowed
    assert rl.hit(user("b", plan="pro")).allowed


def test_memory_is_bounded_and_idle_users_are_forgotten_losslessly():
    clock = Clock()
    rl = limiter(clock, limit=100, window=10.0, max_users=50, sweep_interval=1.0)
    for i in range(200):
        rl.hit(user(f"u{i}"))
    assert len(rl) <= 51
    # a busy user keeps its state through sweeps of idle ones
    for _ in range(100):
        rl.hit(user("busy"))
    clock.now += 5.0  # busy user has half its budget back; the others are full again
    assert rl.hit(user("trigger")).allowed
    assert len(rl) == 2  # idle entries (TAT in the past) were dropped
    assert rl.hit(user("busy")).remaining == 49


def test_disabled_limiter_and_invalid_configuration():
    clock = Clock()
    assert RateLimiter(enabled=False, clock=clock).hit(user()) is None
    with pytest.raises(ValueError):
        RateLimiter({"standard": 0})
    with pytest.raises(ValueError):
        RateLimiter({"pro": "lots"})
    with pytest.raises(ValueError):
        RateLimiter(window=0)


def test_cost_counts_several_requests_at_once():
    clock = Clock()
    rl = limiter(clock, limit=10, window=10.0)
    assert rl.hit(user(), cost=4).remaining == 6
    assert not rl.hit(user(), cost=7).allowed  # would overdraw: refused, nothing spent
    assert rl.hit(user(), cost=6).remaining == 0


def test_create_user_cli_sets_a_per_user_override(tmp_path, capsys):
    import asyncio

    from axon_jupyter.app import CreateUserApp
    from axon_jupyter.store.sqlite import open_store

    data_dir = tmp_path / "data"
    app = CreateUserApp(
        email="quota@example.com", password="long-enough-pw", rate_limit=50, data_dir=str(data_dir)
    )
    app.db_url = f"sqlite:///{data_dir / 'axon.db'}"
    app.run()
    assert "created user" in capsys.readouterr().out

    async def stored():
        store = await open_store(app.db_url)
        try:
            return await store.get_user_by_email("quota@example.com")
        finally:
            await store.close()

    user = asyncio.run(stored())
    assert user.rate_limit == 50
    assert RateLimiter().hit(user).limit == 50
