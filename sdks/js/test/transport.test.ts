/**
 * Retries, timeouts, aborts and error mapping for answers a healthy Axon server does not
 * give on demand (5xx, a proxy's HTML, a hang): a tiny local HTTP server plays them.
 * 429 against the real server's limiter is in rate-limit.test.ts.
 */

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';

import {
  APIConnectionError,
  APIError,
  APITimeoutError,
  APIUserAbortError,
  AuthenticationError,
  AxonOS,
  InternalServerError,
  RateLimitError,
  ServiceUnavailableError,
  parseRetryAfter,
} from '@axonos/sdk';

import { freePort } from './support/server.js';

interface Scripted {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Never answer (to provoke timeouts). */
  hang?: boolean;
}

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

const envelope = (code: string, message = code) => ({ error: { code, message, details: {} } });

describe('transport (local stub server)', () => {
  let server: Server;
  let baseUrl: string;
  let script: Scripted[] = [];
  let seen: Seen[] = [];

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        const next = script.shift() ?? { status: 200, body: { ok: true } };
        if (next.hang) return; // the socket is closed by server.closeAllConnections()
        const text = typeof next.body === 'string' ? next.body : JSON.stringify(next.body ?? {});
        res.writeHead(next.status, {
          'Content-Type': typeof next.body === 'string' ? 'text/html' : 'application/json',
          'X-Request-Id': `req${seen.length}`,
          ...(next.headers ?? {}),
        });
        res.end(next.status === 204 ? undefined : text);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/axon/v1`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    script = [];
    seen = [];
  });

  const client = (options = {}) => new AxonOS({ apiKey: 'axon_test', baseUrl, ...options });

  it('retries 429 after Retry-After and succeeds; reads the rate-limit headers', async () => {
    script = [
      { status: 429, body: envelope('RATE_LIMITED'), headers: { 'Retry-After': '1' } },
      {
        status: 200,
        body: { workflows: [], pagination: { page: 1, limit: 10, total: 0, total_pages: 0 } },
        headers: { 'X-RateLimit-Limit': '1000', 'X-RateLimit-Remaining': '998', 'X-RateLimit-Reset': '1700000000' },
      },
    ];
    const c = client();
    const started = Date.now();
    const page = await c.workflows.list();
    assert.equal(page.pagination.total, 0);
    assert.equal(seen.length, 2);
    assert.ok(Date.now() - started >= 950, 'waited for Retry-After');
    assert.deepEqual(c.rateLimit, { limit: 1000, remaining: 998, reset: 1700000000 });
  });

  it('retries 429 for POST too (the server refused before doing anything)', async () => {
    script = [
      { status: 429, body: envelope('RATE_LIMITED'), headers: { 'Retry-After': '0' } },
      { status: 201, body: { id: 'wf_1' } },
    ];
    const wf = await client().workflows.create({ name: 'x' });
    assert.equal(wf.id, 'wf_1');
    assert.equal(seen.length, 2);
    assert.equal(seen[1]!.method, 'POST');
    assert.deepEqual(JSON.parse(seen[1]!.body), { name: 'x' });
  });

  it('gives up after maxRetries with a RateLimitError carrying retryAfter', async () => {
    script = Array.from({ length: 5 }, () => ({
      status: 429,
      body: envelope('RATE_LIMITED', 'Rate limit exceeded'),
      headers: { 'Retry-After': '0' },
    }));
    await assert.rejects(client({ maxRetries: 2 }).workflows.list(), (err: unknown) => {
      assert.ok(err instanceof RateLimitError);
      assert.equal(err.retryAfter, 0);
      assert.equal(err.status, 429);
      assert.equal(err.code, 'RATE_LIMITED');
      assert.equal(err.requestId, 'req3');
      return true;
    });
    assert.equal(seen.length, 3);
  });

  it('does not sleep through a Retry-After longer than maxRetryDelay', async () => {
    script = [{ status: 429, body: envelope('RATE_LIMITED'), headers: { 'Retry-After': '3600' } }];
    const started = Date.now();
    await assert.rejects(client().workflows.list(), (err: unknown) => {
      assert.ok(err instanceof RateLimitError);
      assert.equal(err.retryAfter, 3600);
      return true;
    });
    assert.equal(seen.length, 1);
    assert.ok(Date.now() - started < 1000);
  });

  it('retries 5xx for idempotent calls only', async () => {
    script = [
      { status: 503, body: envelope('UNAVAILABLE'), headers: { 'Retry-After': '0' } },
      { status: 200, body: { id: 'wf_1', name: 'x' } },
    ];
    assert.equal((await client().workflows.get('wf_1')).name, 'x');
    assert.equal(seen.length, 2);

    seen = [];
    script = [{ status: 503, body: envelope('UNAVAILABLE', 'database is locked') }];
    await assert.rejects(client().workflows.create({ name: 'x' }), (err: unknown) => {
      assert.ok(err instanceof ServiceUnavailableError);
      assert.equal(err.message, 'database is locked');
      return true;
    });
    assert.equal(seen.length, 1, 'a POST is never repeated after a 5xx');

    seen = [];
    script = [
      { status: 500, body: envelope('INTERNAL_ERROR', 'Internal server error') },
      { status: 500, body: envelope('INTERNAL_ERROR', 'Internal server error') },
    ];
    await assert.rejects(client().workflows.delete('wf_1', { maxRetries: 1 }), InternalServerError);
    assert.equal(seen.length, 2);
    assert.deepEqual(
      seen.map((s) => s.method),
      ['DELETE', 'DELETE'],
    );
  });

  it('maps a body that is not our envelope by status', async () => {
    script = [{ status: 502, body: '<html>Bad Gateway</html>' }];
    await assert.rejects(client().workflows.create({ name: 'x' }), (err: unknown) => {
      assert.ok(err instanceof InternalServerError);
      assert.equal(err.status, 502);
      assert.equal(err.code, 'INTERNAL_ERROR');
      assert.match(err.message, /Bad Gateway/);
      return true;
    });
    script = [{ status: 418, body: envelope('TEAPOT', 'short and stout') }];
    await assert.rejects(client().workflows.list(), (err: unknown) => {
      assert.ok(err instanceof APIError);
      assert.equal(err.constructor, APIError);
      assert.equal(err.code, 'TEAPOT');
      return true;
    });
  });

  it('times out a call that gets no answer', async () => {
    script = [{ status: 200, hang: true }];
    const started = Date.now();
    await assert.rejects(
      client({ maxRetries: 0 }).workflows.list({}, { timeout: 300 }),
      APITimeoutError,
    );
    assert.ok(Date.now() - started < 2000);
    // A timeout is a connection error, so idempotent calls retry it.
    seen = [];
    script = [{ status: 200, hang: true }, { status: 200, body: { id: 'wf_2' } }];
    assert.equal((await client().workflows.get('wf_2', { timeout: 300 })).id, 'wf_2');
    assert.equal(seen.length, 2);
  });

  it('stops at once when the AbortSignal fires, also while waiting to retry', async () => {
    script = [{ status: 200, hang: true }];
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('user left')), 100);
    await assert.rejects(client().workflows.list({}, { signal: controller.signal }), (err: unknown) => {
      assert.ok(err instanceof APIUserAbortError);
      assert.equal((err.cause as Error).message, 'user left');
      return true;
    });

    script = [{ status: 429, body: envelope('RATE_LIMITED'), headers: { 'Retry-After': '30' } }];
    const second = new AbortController();
    setTimeout(() => second.abort(), 150);
    const started = Date.now();
    await assert.rejects(client().workflows.list({}, { signal: second.signal }), APIUserAbortError);
    assert.ok(Date.now() - started < 2000);

    await assert.rejects(
      client().workflows.list({}, { signal: AbortSignal.abort() }),
      APIUserAbortError,
    );
  });

  it('reports a refused connection as APIConnectionError', async () => {
    const port = await freePort();
    const c = new AxonOS({ apiKey: 'k', baseUrl: `http://127.0.0.1:${port}/axon/v1`, maxRetries: 0 });
    await assert.rejects(c.workflows.list(), (err: unknown) => {
      assert.ok(err instanceof APIConnectionError);
      assert.match(err.message, /ECONNREFUSED/);
      return true;
    });
  });

  it('sends credentials, queries and ids as the API expects', async () => {
    script = [{ status: 200, body: {} }, { status: 200, body: {} }, { status: 204 }];
    await client().workflows.list({ page: 2, limit: 5, status: 'active', search: 'a b&c' });
    assert.equal(seen[0]!.url, '/axon/v1/workflows?page=2&limit=5&status=active&search=a+b%26c');
    assert.equal(seen[0]!.headers['x-api-key'], 'axon_test');
    assert.equal(seen[0]!.headers.authorization, undefined);

    const bearer = new AxonOS({ token: 'jwt.token.here', apiKey: 'axon_test', baseUrl });
    await bearer.workflows.get('wf/../../etc');
    assert.equal(seen[1]!.url, '/axon/v1/workflows/wf%2F..%2F..%2Fetc');
    assert.equal(seen[1]!.headers.authorization, 'Bearer jwt.token.here');
    assert.equal(seen[1]!.headers['x-api-key'], undefined);

    assert.equal(await bearer.workflows.delete('wf_1'), undefined);
  });

  it('a failed refresh: a refused refresh token answers the original 401, anything else itself', async () => {
    const unauthorized = (reason: string) => ({
      status: 401,
      body: { error: { code: 'UNAUTHORIZED', message: 'invalid token', details: { reason } } },
    });
    script = [unauthorized('token_revoked'), unauthorized('token_reused')];
    const c = new AxonOS({ baseUrl, token: 'old', refreshToken: 'spent', maxRetries: 0 });
    await assert.rejects(c.workflows.list(), (err: unknown) => {
      assert.ok(err instanceof AuthenticationError);
      assert.equal(err.details.reason, 'token_revoked');
      return true;
    });
    assert.deepEqual(
      seen.map((s) => `${s.method} ${s.url}`),
      ['GET /axon/v1/workflows', 'POST /axon/v1/auth/refresh'],
    );
    assert.deepEqual(JSON.parse(seen[1]!.body), { refresh_token: 'spent' });
    assert.equal(seen[1]!.headers.authorization, undefined, 'refresh carries no access token');
    assert.equal(c.token, null);
    assert.equal(c.refreshToken, null);

    seen = [];
    script = [
      unauthorized('token_revoked'),
      { status: 429, body: envelope('RATE_LIMITED'), headers: { 'Retry-After': '3600' } },
    ];
    const d = new AxonOS({ baseUrl, token: 'old', refreshToken: 'fine' });
    await assert.rejects(d.workflows.list(), RateLimitError);
    assert.equal(d.refreshToken, 'fine', 'a refresh that never ran keeps its token');
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    assert.equal(parseRetryAfter('7'), 7);
    assert.equal(parseRetryAfter(null), null);
    assert.equal(parseRetryAfter('soon'), null);
    const inTen = new Date(Date.now() + 10_000).toUTCString();
    const parsed = parseRetryAfter(inTen)!;
    assert.ok(parsed > 8 && parsed <= 10);
  });
});
