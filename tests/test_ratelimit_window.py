"""The budget comes back after the window (a short window, so the test waits 2 s)."""

import asyncio
import time

import pytest

WINDOW = 2.0
LIMIT = 4


@pytest.fixture
def axon_config():
    return {"rate_limit_plans": {"standard": LIMIT}, "rate_limit_window": WINDOW}


async def test_the_full_budget_is_back_after_the_window(axon_user):
    refused = None
    for _ in range(LIMIT + 3):  # a burst: the budget runs out within a few requests
        resp = await axon_user.client.get("workflows")
        if resp.status == 429:
            refused = resp
            break
    assert refused is not None and refused.error_code == "RATE_LIMITED"
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= WINDOW
    reset = int(refused.headers["X-RateLimit-Reset"])
    assert reset <= time.time() + WINDOW + 1
    await asyncio.sleep(WINDOW + 0.05)
    remaining = []
    for _ in range(LIMIT):
        resp = await axon_user.client.get("workflows")
        assert resp.status == 200
        remaining.append(int(resp.headers["X-RateLimit-Remaining"]))
    assert remaining[0] == LIMIT - 1  # the whole budget, not a fraction of it
    assert remaining == sorted(remaining, reverse=True)
