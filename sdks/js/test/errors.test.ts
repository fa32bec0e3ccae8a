/** Each error class, provoked against the real server (5xx and 429: transport and rate-limit tests). */

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import {
  APIError,
  AuthenticationError,
  AxonError,
  AxonOS,
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
  PermissionDeniedError,
  PreconditionFailedError,
  ValidationError,
} from '@axonos/sdk';

import { MAX_BODY_SIZE, adminClient, server, simpleDefinition, uniq } from './support/env.js';

describe('typed errors from the real server', () => {
  let client: AxonOS;
  before(async () => {
    client = await adminClient();
  });

  const expectError = async (
    call: Promise<unknown>,
    cls: new (...args: never[]) => APIError,
    status: number,
    code: string,
  ) => {
    await assert.rejects(call, (err: unknown) => {
      assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
      assert.ok(err instanceof APIError && err instanceof AxonError && err instanceof Error);
      assert.equal(err.name, cls.name);
      assert.equal(err.status, status);
      assert.equal(err.code, code);
      assert.equal(typeof err.message, 'string');
      assert.equal(typeof err.details, 'object');
      assert.match(err.requestId ?? '', /^[0-9a-f]{16}$/);
      return true;
    });
  };

  it('400 ValidationError, 404 NotFoundError, 409 ConflictError, 412 PreconditionFailedError', async () => {
    await expectError(client.workflows.list({ page: 0 }), ValidationError, 400, 'VALIDATION_ERROR');
    await expectError(client.workflows.get('wf_missing'), NotFoundError, 404, 'NOT_FOUND');
    const wf = await client.workflows.create({ name: uniq('err'), definition: simpleDefinition() });
    await expectError(
      client.workflows.update(wf.id, { name: 'x', version: 7 }),
      ConflictError,
      409,
      'CONFLICT',
    );
    await expectError(
      client.workflows.update(wf.id, { name: 'x' }, { headers: { 'If-Match': '"stale"' } }),
      PreconditionFailedError,
      412,
      'PRECONDITION_FAILED',
    );
    assert.equal((await client.workflows.get(wf.id)).version, 1, 'nothing changed');
    await client.workflows.delete(wf.id);
  });

  it('401 AuthenticationError and 403 PermissionDeniedError', async () => {
    const { apiUrl } = await server();
    await expectError(
      new AxonOS({ apiKey: 'axon_not_a_key', baseUrl: apiUrl }).workflows.list(),
      AuthenticationError,
      401,
      'UNAUTHORIZED',
    );
    const key = await client.apiKeys.create({ name: 'read only', scopes: ['workflows:read'] });
    await expectError(
      new AxonOS({ apiKey: key.key, baseUrl: apiUrl }).workflows.create({ name: 'nope' }),
      PermissionDeniedError,
      403,
      'FORBIDDEN',
    );
    await client.apiKeys.revoke(key.id);
  });

  it('413 PayloadTooLargeError, and nothing is stored', async () => {
    const tag = uniq('big');
    await expectError(
      client.workflows.create({ name: tag, description: 'x'.repeat(MAX_BODY_SIZE + 1) }),
      PayloadTooLargeError,
      413,
      'PAYLOAD_TOO_LARGE',
    );
    assert.equal((await client.workflows.list({ search: tag })).pagination.total, 0);
  });
});
