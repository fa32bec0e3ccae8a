import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import {
  AuthenticationError,
  AxonOS,
  NotFoundError,
  PermissionDeniedError,
  ValidationError,
} from '@axonos/sdk';

import { member, server, sharedFixtures, simpleDefinition, uniq, type TestUser } from './support/env.js';

describe('apiKeys', () => {
  let user: TestUser;
  let baseUrl: string;
  before(async () => {
    user = await member();
    baseUrl = (await server()).apiUrl;
  });

  it('create shows the key once; list never does; the key authenticates', async () => {
    const created = await user.client.apiKeys.create({ name: 'ci key', expires_in_days: 30 });
    assert.match(created.id, /^key_/);
    assert.match(created.key, /^axon_/);
    assert.ok(created.key.startsWith(created.prefix));
    assert.equal(created.name, 'ci key');
    assert.equal(created.revoked, false);
    assert.ok(created.expires_at);
    assert.ok(created.scopes.includes('workflows:write'));
    assert.ok(!created.scopes.includes('admin'), 'a member never gets the admin scope');

    const listed = await user.client.apiKeys.list();
    const mine = listed.find((k) => k.id === created.id);
    assert.ok(mine);
    assert.equal('key' in mine, false);
    assert.equal(mine.prefix, created.prefix);

    const byKey = new AxonOS({ apiKey: created.key, baseUrl });
    const me = await byKey.auth.me();
    assert.equal(me.via, 'api_key');
    assert.equal(me.user.email, user.email);
  });

  it('a key with fewer scopes gets PermissionDeniedError naming the scope', async () => {
    const readOnly = await user.client.apiKeys.create({ name: 'ro', scopes: ['workflows:read'] });
    assert.deepEqual(readOnly.scopes, ['workflows:read']);
    const client = new AxonOS({ apiKey: readOnly.key, baseUrl });
    const tag = uniq('ro');
    assert.equal((await client.workflows.list({ search: tag })).pagination.total, 0);
    await assert.rejects(
      client.workflows.create({ name: tag, definition: simpleDefinition() }),
      (err: unknown) => {
        assert.ok(err instanceof PermissionDeniedError);
        assert.equal(err.status, 403);
        assert.equal(err.code, 'FORBIDDEN');
        assert.equal(err.details.scope, 'workflows:write');
        return true;
      },
    );
    assert.equal((await user.client.workflows.list({ search: tag })).pagination.total, 0);
  });

  it('revoke ends the key at once; unknown ids are NotFoundError', async () => {
    const created = await user.client.apiKeys.create({ name: 'short-lived' });
    const client = new AxonOS({ apiKey: created.key, baseUrl });
    await client.workflows.list();
    await user.client.apiKeys.revoke(created.id);
    await assert.rejects(client.workflows.list(), (err: unknown) => {
      assert.ok(err instanceof AuthenticationError);
      assert.equal(err.details.reason, 'api_key_revoked');
      return true;
    });
    const listed = await user.client.apiKeys.list();
    assert.equal(listed.find((k) => k.id === created.id)?.revoked, true);
    await assert.rejects(user.client.apiKeys.revoke('key_doesnotexist'), NotFoundError);
  });

  it('bad scopes are a ValidationError and create nothing', async () => {
    const before = (await user.client.apiKeys.list()).length;
    await assert.rejects(
      user.client.apiKeys.create({ name: 'x', scopes: ['root' as never] }),
      (err: unknown) => err instanceof ValidationError && err.details.field === 'scopes',
    );
    assert.equal((await user.client.apiKeys.list()).length, before);
  });

  it('a key from the CLI (`jupyter axon create-api-key`) works in the SDK', async () => {
    const srv = await server();
    const { adminApiKey } = await sharedFixtures();
    assert.match(adminApiKey, /^axon_/);
    const me = await new AxonOS({ apiKey: adminApiKey, baseUrl }).auth.me();
    assert.equal(me.user.email, srv.adminEmail);
    assert.equal(me.user.role, 'admin');
    assert.equal(me.via, 'api_key');
  });
});
