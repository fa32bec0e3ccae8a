"""The SDK against the server's real limits, configured tiny: 3 requests per 3 s per
user (GCRA: a burst of 3, then one every second), and 4 KiB request bodies."""

from __future__ import annotations

import asyncio
import time

import pytest
from axonos import AsyncAxonOS, AxonOS, PayloadTooLargeError, RateLimitError

call = asyncio.to_thread


@pytest.fixture
def axon_config():
    return {"rate_limit_plans": {"standard": 3}, "rate_limit_window": 3.0, "max_body_size": 4096}


@pytest.fixture(autouse=True)
def no_axon_env(monkeypatch):
    for name in ("AXON_URL", "AXON_API_KEY", "AXON_TOKEN"):
        monkeypatch.delenv(name, raising=False)


async def test_429_waits_retry_after_then_succeeds(axon_client, axon_user):
    sdk = AxonOS(token=axon_user.token, base_url=axon_client.api_url)
    for _ in range(3):
        await call(sdk.workflows.list)
    started = time.monotonic()
    page = await call(sdk.workflows.list)  # refused once, then let through
    assert page.items == [] and time.monotonic() - started >= 0.9
    sdk.close()


async def test_429_surfaces_when_retries_are_off_or_the_wait_too_long(axon_client, axon_user):
    strict = AxonOS(token=axon_user.token, base_url=axon_client.api_url, max_retries=0)
    for _ in range(3):
        await call(strict.workflows.create, name="counted")
    with pytest.raises(RateLimitError) as info:
        await call(strict.workflows.create, name="refused")
    err = info.value
    assert (err.status, err.code) == (429, "RATE_LIMITED")
    assert err.retry_after >= 1 and err.details["limit"] == 3
    assert (err.limit, err.remaining) == (3, 0) and err.reset >= int(time.time())

    impatient = AxonOS(token=axon_user.token, base_url=axon_client.api_url, max_retry_delay=0.5)
    started = time.monotonic()
    with pytest.raises(RateLimitError):
        await call(impatient.workflows.create, name="refused too")
    assert time.monotonic() - started < 0.9  # not slept: the wait is the caller's call
    # The refused requests created nothing (read once the budget has refilled).
    names = [w.name for w in await call(_wait_list, strict)]
    assert names == ["counted"] * 3
    strict.close()
    impatient.close()


def _wait_list(client: AxonOS):
    time.sleep(1.1)
    return client.workflows.list().items


async def test_async_client_honours_retry_after(axon_client, axon_user):
    async with AsyncAxonOS(token=axon_user.token, base_url=axon_client.api_url) as sdk:
        for _ in range(3):
            await sdk.auth.me()
        started = time.monotonic()
        me = await sdk.auth.me()
        assert me.id == axon_user.id and time.monotonic() - started >= 0.9


async def test_body_over_the_cap_is_payload_too_large(axon_client, axon_user):
    sdk = AxonOS(token=axon_user.token, base_url=axon_client.api_url, max_retries=0)
    with pytest.raises(PayloadTooLargeError) as info:
        await call(sdk.workflows.create, name="big", description="x" * 5000)
    assert (info.value.status, info.value.code) == (413, "PAYLOAD_TOO_LARGE")
    assert info.value.details["limit_bytes"] == 4096
    sdk.close()
    listed = await axon_user.client.get("workflows")
    assert listed.json()["pagination"]["total"] == 0
