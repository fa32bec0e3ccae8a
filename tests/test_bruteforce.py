"""Brute-force protection: login, the OAuth sign-in page and the token endpoint."""

import asyncio

import httpx
import pytest

from axon_jupyter.auth.bruteforce import BruteForceGuard
from axon_jupyter.errors import RateLimited

ATTEMPTS = 3
ADDRESS_ATTEMPTS = 8


@pytest.fixture
def axon_config():
    return {
        "bruteforce_account_attempts": ATTEMPTS,
        "bruteforce_address_attempts": ADDRESS_ATTEMPTS,
        "bruteforce_lockout": 1.0,
        "bruteforce_max_lockout": 2.0,
    }


async def login(client, email, password):
    return await client.post("auth/login", {"email": email, "password": password})


async def test_login_lockout_is_per_account_bounded_and_cleared_by_success(
    axon_client, axon_user, axon_other_user
):
    for _ in range(ATTEMPTS):
        wrong = await login(axon_client, axon_user.email, "wrong-password")
        assert wrong.status == 401
    locked = await login(axon_client, axon_user.email, axon_user.password)
    assert locked.status == 429 and locked.error_code == "RATE_LIMITED"
    details = locked.json()["error"]["details"]
    assert details["reason"] == "too_many_failures"
    retry = int(locked.headers["Retry-After"])
    assert retry == details["retry_after"] and 1 <= retry <= 2
    # the lock is on alice's account, not on everyone's
    assert (await login(axon_client, axon_other_user.email, axon_other_user.password)).status == 200
    # bounded: once it runs out, the right password works and wipes the count
    await asyncio.sleep(retry)
    assert (await login(axon_client, axon_user.email, axon_user.password)).status == 200
    for _ in range(ATTEMPTS - 1):
        assert (await login(axon_client, axon_user.email, "wrong-password")).status == 401
    assert (await login(axon_client, axon_user.email, axon_user.password)).status == 200


async def test_one_address_guessing_many_accounts_is_locked_out(axon_client, axon_user):
    for i in range(ADDRESS_ATTEMPTS):
        resp = await login(axon_client, f"guess{i}@example.com", "password123")
        assert resp.status == 401
    blocked = await login(axon_client, axon_user.email, axon_user.password)
    assert (
        blocked.status == 429
        and blocked.json()["error"]["details"]["reason"] == "too_many_failures"
    )


async def test_oauth_token_endpoint_locks_a_client_out_after_failed_secrets(
    axon_client, axon_admin
):
    from test_oauth import endpoints, post_token, register

    app = await register(axon_admin, grant_types=["client_credentials"], redirect_uris=[])
    for _ in range(ATTEMPTS):
        bad = await post_token(
            axon_client, {"grant_type": "client_credentials"}, (app["client_id"], "axcs_guess")
        )
        assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    good = await post_token(
        axon_client, {"grant_type": "client_credentials"}, (app["client_id"], app["client_secret"])
    )
    assert good.status_code == 429
    assert good.json()["error"] == "temporarily_unavailable"  # RFC 6749 shape on this endpoint
    assert 1 <= int(good.headers["Retry-After"]) <= 2
    # the revocation endpoint shares the lock (it authenticates clients too)
    async with httpx.AsyncClient() as http:
        revoke = await http.post(
            endpoints(axon_client)["revoke"],
            data={"token": "x"},
            auth=(app["client_id"], app["client_secret"]),
        )
    assert revoke.status_code == 429
    await asyncio.sleep(int(good.headers["Retry-After"]))
    again = await post_token(
        axon_client, {"grant_type": "client_credentials"}, (app["client_id"], app["client_secret"])
    )
    assert again.status_code == 200


async def test_the_consent_page_sign_in_is_protected_too(
    axon_client, axon_admin, axon_user, axon_runtime
):
    import urllib.parse

    from test_oauth import REDIRECT, consent, endpoints, pkce_pair, register

    app = await register(axon_admin, client_type="public")
    _, challenge = pkce_pair()
    url = (
        endpoints(axon_client)["authorize"]
        + "?"
        + urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": app["client_id"],
                "redirect_uri": REDIRECT,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
    )
    async with httpx.AsyncClient() as browser:
        for _ in range(ATTEMPTS):
            wrong = await consent(browser, url, email=axon_user.email, password="wrong-password")
            assert wrong.status_code == 401
        locked = await consent(browser, url, email=axon_user.email, password=axon_user.password)
        assert locked.status_code == 429 and "location" not in locked.headers
        assert "Too many failed attempts" in locked.text and locked.headers["Retry-After"]
        # the same lock guards /auth/login: it is one account
        assert (await login(axon_client, axon_user.email, axon_user.password)).status == 429
    assert await axon_runtime.store._read("SELECT * FROM oauth_codes") == []


# ------------------------------------------------------------------ the guard itself
class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def guard(clock, **kw):
    args = {"account_attempts": 3, "address_attempts": 10, "lockout": 1.0, "max_lockout": 60.0}
    return BruteForceGuard(clock=clock, **{**args, **kw})


def attempt(g, keys) -> int | None:
    """One failed attempt; the Retry-After it was refused with, or None if it ran."""
    try:
        g.begin(keys)
    except RateLimited as exc:
        return exc.retry_after
    return None


def test_lockout_doubles_and_is_capped():
    clock = Clock()
    g = guard(clock)
    keys = g.keys("login", "Alice@Example.com", "10.0.0.1")
    assert [attempt(g, keys) for _ in range(3)] == [None, None, None]
    waits = []
    for _ in range(12):
        refused = attempt(g, keys)
        waits.append(refused)
        clock.now += g.retry_after(keys) + 0.001  # wait the lock out, then fail again
        assert attempt(g, keys) is None
    assert waits[:6] == [1, 2, 4, 8, 16, 32]
    assert max(waits) == 60 and waits[-1] == 60  # never more than max_lockout
    # the account key is case-insensitive
    assert attempt(g, g.keys("login", "alice@example.com", None)) == 60


def test_failures_are_forgotten_after_a_quiet_period_and_success_wipes_them():
    clock = Clock()
    g = guard(clock, forget_after=120.0)
    keys = g.keys("login", "bob@example.com", None)
    for _ in range(3):
        attempt(g, keys)
    assert attempt(g, keys) is not None
    clock.now += 121.0
    assert attempt(g, keys) is None  # a fresh start, not the next doubling
    g.succeeded(keys)
    assert len(g) == 0


def test_attempts_count_before_they_are_checked():
    """Parallel guesses cannot slip through while the first ones are still verifying."""
    clock = Clock()
    g = guard(clock)
    keys = g.keys("login", "carol@example.com", None)
    started = [attempt(g, keys) for _ in range(50)]  # nothing has finished yet
    assert started.count(None) == 3


def test_memory_is_bounded():
    clock = Clock()
    g = guard(clock, max_entries=100)
    for i in range(1000):
        attempt(g, g.keys("login", f"u{i}@x.y", None))
    assert len(g) == 100


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError):
        BruteForceGuard(account_attempts=0)
    with pytest.raises(ValueError):
        BruteForceGuard(lockout=10.0, max_lockout=1.0)
