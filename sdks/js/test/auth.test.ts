import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import { AuthenticationError, AxonOS, ValidationError, type TokenResponse } from '@axonos/sdk';

import { member, server, type TestUser } from './support/env.js';
import type { ServerInfo } from './support/server.js';

describe('auth', () => {
  let srv: ServerInfo;
  let user: TestUser;
  before(async () => {
    srv = await server();
    user = await member();
  });

  it('AxonOS.login gives a client that acts as the user through a JWT', async () => {
    const client = await AxonOS.login(user.email, user.password, { baseUrl: srv.apiUrl });
    assert.ok(client.token?.startsWith('eyJ'));
    assert.ok(client.refreshToken);
    const me = await client.auth.me();
    assert.equal(me.via, 'jwt');
    assert.equal(me.user.email, user.email);
    assert.equal(me.user.role, 'member');
    assert.equal(me.user.plan, 'pro');
    assert.match(me.user.id, /^user_/);
  });

  it('client.auth.login answers the seed shape plus refresh_token and adopts it', async () => {
    const client = new AxonOS({ baseUrl: srv.apiUrl });
    await assert.rejects(client.auth.me(), (err: unknown) => {
      assert.ok(err instanceof AuthenticationError);
      assert.equal(err.status, 401);
      assert.equal(err.code, 'UNAUTHORIZED');
      assert.equal(err.details.reason, 'missing_credentials');
      return true;
    });
    const tokens = await client.auth.login(user.email, user.password);
    assert.equal(tokens.token_type, 'Bearer');
    assert.equal(tokens.expires_in, 3600);
    assert.equal(tokens.user.email, user.email);
    assert.deepEqual(Object.keys(tokens.user).sort(), ['email', 'id', 'name']);
    assert.equal(client.token, tokens.token);
    assert.equal((await client.auth.me()).user.email, user.email);
  });

  it('wrong password and bad input are typed errors', async () => {
    await assert.rejects(
      AxonOS.login(user.email, 'not-the-password', { baseUrl: srv.apiUrl }),
      (err: unknown) =>
        err instanceof AuthenticationError && err.details.reason === 'invalid_credentials',
    );
    const client = new AxonOS({ baseUrl: srv.apiUrl });
    await assert.rejects(
      client.auth.login(user.email, 'x'.repeat(2000)),
      (err: unknown) => err instanceof ValidationError && err.details.field === 'password',
    );
    assert.equal(client.token, null);
  });

  it('refresh rotates the pair; a spent refresh token ends the whole login', async () => {
    const seen: TokenResponse[] = [];
    const client = await AxonOS.login(user.email, user.password, {
      baseUrl: srv.apiUrl,
      onTokens: (t) => seen.push(t),
    });
    const first = { token: client.token!, refresh: client.refreshToken! };
    const rotated = await client.auth.refresh();
    assert.equal(seen.length, 2);
    assert.notEqual(rotated.refresh_token, first.refresh);
    assert.equal(client.refreshToken, rotated.refresh_token);
    assert.equal((await client.auth.me()).user.email, user.email);

    // Someone replays the old refresh token: refused, and the login is over for everyone.
    const thief = new AxonOS({ baseUrl: srv.apiUrl });
    await assert.rejects(thief.auth.refresh(first.refresh), (err: unknown) => {
      assert.ok(err instanceof AuthenticationError);
      assert.equal(err.details.reason, 'token_reused');
      return true;
    });
    await assert.rejects(client.auth.me(), AuthenticationError);
    assert.equal(client.token, null, 'a dead refresh token is forgotten');
  });

  it('renews a refused access token once, for many concurrent calls, and replays them', async () => {
    const login = await AxonOS.login(user.email, user.password, { baseUrl: srv.apiUrl });
    let refreshes = 0;
    const client = new AxonOS({
      baseUrl: srv.apiUrl,
      token: 'eyJ.not-a-valid.token',
      refreshToken: login.refreshToken,
      onTokens: () => refreshes++,
    });
    const results = await Promise.all(Array.from({ length: 5 }, () => client.auth.me()));
    assert.ok(results.every((me) => me.user.email === user.email));
    // One refresh for all five: a second one would have replayed a spent refresh token
    // and ended the login.
    assert.equal(refreshes, 1);
    assert.notEqual(client.token, 'eyJ.not-a-valid.token');
    assert.equal((await client.auth.me()).via, 'jwt');
  });

  it('concurrent explicit refreshes share one rotation', async () => {
    const client = await AxonOS.login(user.email, user.password, { baseUrl: srv.apiUrl });
    const [a, b, c] = await Promise.all([
      client.auth.refresh(),
      client.auth.refresh(),
      client.auth.refresh(),
    ]);
    assert.equal(a.refresh_token, b.refresh_token);
    assert.equal(b.refresh_token, c.refresh_token);
    // Had the spent token gone out twice, the server would have ended the login.
    assert.equal((await client.auth.me()).user.email, user.email);
    await client.auth.refresh();
    assert.equal((await client.auth.me()).via, 'jwt');
  });

  it('refreshes ahead of expiry without a failed round trip', async () => {
    const client = await AxonOS.login(user.email, user.password, { baseUrl: srv.apiUrl });
    const tokens = await client.auth.refresh();
    client.setTokens({ ...tokens, expires_in: 0 }); // due now
    const before = client.token;
    assert.equal((await client.auth.me()).user.email, user.email);
    assert.notEqual(client.token, before);
  });

  it('logout ends the token on the server and forgets it locally', async () => {
    const client = await AxonOS.login(user.email, user.password, { baseUrl: srv.apiUrl });
    const { token, refreshToken } = client;
    await client.auth.logout();
    assert.equal(client.token, null);
    assert.equal(client.refreshToken, null);
    const stale = new AxonOS({ baseUrl: srv.apiUrl, token });
    await assert.rejects(stale.auth.me(), (err: unknown) => {
      assert.ok(err instanceof AuthenticationError);
      assert.equal(err.details.reason, 'token_revoked');
      assert.match(err.headers.get('www-authenticate') ?? '', /^Bearer/);
      return true;
    });
    await assert.rejects(stale.auth.refresh(refreshToken!), AuthenticationError);
  });

  it('health needs no credentials', async () => {
    const health = await new AxonOS({ baseUrl: srv.apiUrl }).health();
    assert.equal(health.status, 'ok');
    assert.match(health.version, /^\d+\.\d+/);
  });
});
