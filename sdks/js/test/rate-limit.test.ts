/**
 * 429 from the real limiter: a server of its own with a tiny plan budget
 * (3 requests per 6 s for the standard plan: a burst of 3, then one every 2 s).
 */

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { AxonOS, RateLimitError } from '@axonos/sdk';

import { startServer, type AxonServer } from './support/server.js';
import { uniq } from './support/env.js';

describe('rate limits (real server, small budget)', () => {
  let srv: AxonServer;
  before(async () => {
    srv = await startServer({
      args: ['--AxonApp.rate_limit_plans={"standard": 3}', '--AxonApp.rate_limit_window=6'],
    });
  });
  after(async () => {
    await srv?.stop();
  });

  const login = (options = {}) =>
    AxonOS.login(srv.adminEmail, srv.adminPassword, { baseUrl: srv.apiUrl, ...options });

  it('throws RateLimitError with retryAfter past the budget, then retries through it', async () => {
    const client = await login({ maxRetries: 0 });
    const tag = uniq('rl');
    await client.workflows.list({ search: tag });
    assert.equal(client.rateLimit?.limit, 3);
    assert.ok(client.rateLimit!.remaining <= 2);
    assert.ok(client.rateLimit!.reset > Date.now() / 1000 - 1);
    // Spend what is left (a slow machine may have earned a request back meanwhile).
    for (let i = 0; i < 10 && client.rateLimit!.remaining > 0; i++) {
      await client.workflows.list({ search: tag });
    }
    assert.equal(client.rateLimit!.remaining, 0);

    await assert.rejects(client.workflows.create({ name: tag }), (err: unknown) => {
      assert.ok(err instanceof RateLimitError);
      assert.equal(err.status, 429);
      assert.equal(err.code, 'RATE_LIMITED');
      assert.ok(err.retryAfter !== null && err.retryAfter >= 1 && err.retryAfter <= 6);
      assert.equal(err.headers.get('x-ratelimit-remaining'), '0');
      return true;
    });

    // The same call with retries waits out Retry-After and goes through, once.
    const started = Date.now();
    const created = await client.workflows.create({ name: tag }, { maxRetries: 3 });
    assert.ok(Date.now() - started >= 500, 'waited for the budget');
    const page = await client.workflows.list({ search: tag }, { maxRetries: 3 });
    assert.deepEqual(page.workflows.map((w) => w.id), [created.id], 'the refused POST made nothing');
  });

  it('does not wait longer than maxRetryDelay, and the limit follows the user across credentials', async () => {
    const client = await login({ maxRetries: 3, maxRetryDelay: 0 });
    const key = await client.apiKeys.create({ name: 'rl' }, { maxRetries: 5, maxRetryDelay: 10 });
    const byKey = new AxonOS({ apiKey: key.key, baseUrl: srv.apiUrl, maxRetries: 0 });
    // Spend the budget through the JWT ...
    let refused: RateLimitError | null = null;
    for (let i = 0; i < 5 && !refused; i++) {
      try {
        await client.auth.me();
      } catch (err) {
        if (!(err instanceof RateLimitError)) throw err;
        refused = err;
      }
    }
    assert.ok(refused, 'the JWT client hit the limit without sleeping (maxRetryDelay 0)');
    // ... and the API key of the same user is out of budget too.
    await assert.rejects(byKey.auth.me(), RateLimitError);
  });
});
