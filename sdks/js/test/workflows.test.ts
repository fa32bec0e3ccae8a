import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import {
  AxonOS,
  ConflictError,
  NotFoundError,
  PreconditionFailedError,
  ValidationError,
  type Workflow,
} from '@axonos/sdk';

import { adminClient, member, simpleDefinition, uniq } from './support/env.js';

const ISO_Z = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

describe('workflows', () => {
  let client: AxonOS;
  before(async () => {
    client = await adminClient();
  });

  it('create, get, update with version, delete', async () => {
    const tag = uniq();
    const created = await client.workflows.create({
      name: `Data Processing Pipeline ${tag}`,
      description: 'ETL workflow for customer data',
      definition: simpleDefinition(),
    });
    assert.match(created.id, /^wf_/);
    assert.equal(created.status, 'draft');
    assert.equal(created.version, 1);
    assert.equal(created.node_count, 2);
    assert.equal(created.execution_count, 0);
    assert.match(created.created_at, ISO_Z);
    assert.match(created.updated_at, ISO_Z);
    assert.deepEqual(created.definition.nodes.map((n) => n.id), ['start', 'log']);

    const fetched = await client.workflows.get(created.id);
    assert.deepEqual(fetched, created);

    const updated = await client.workflows.update(created.id, {
      status: 'active',
      version: created.version,
    });
    assert.equal(updated.status, 'active');
    assert.equal(updated.version, 2);
    assert.equal(updated.name, created.name);

    // The version we read is stale now: the server refuses the lost update.
    await assert.rejects(
      client.workflows.update(created.id, { name: 'lost update', version: created.version }),
      (err: unknown) => {
        assert.ok(err instanceof ConflictError);
        assert.equal(err.status, 409);
        assert.equal(err.code, 'CONFLICT');
        assert.equal(err.details.current, 2);
        return true;
      },
    );
    // A stale ETag through per-call headers: 412.
    await assert.rejects(
      client.workflows.update(
        created.id,
        { name: 'lost update' },
        { headers: { 'If-Match': `"${created.id}-v1"` } },
      ),
      PreconditionFailedError,
    );
    assert.equal((await client.workflows.get(created.id)).name, created.name);

    await client.workflows.delete(created.id);
    await assert.rejects(client.workflows.get(created.id), NotFoundError);
    await assert.rejects(client.workflows.delete(created.id), NotFoundError);
  });

  it('lists one page in the seed shape, filters, and iterates over all pages', async () => {
    const tag = uniq('page');
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const wf = await client.workflows.create({
        name: `${tag} #${i}`,
        status: i % 2 ? 'active' : 'draft',
        definition: simpleDefinition(),
      });
      ids.push(wf.id);
    }
    const page1 = await client.workflows.list({ search: tag, limit: 3 });
    assert.deepEqual(page1.pagination, { page: 1, limit: 3, total: 7, total_pages: 3 });
    assert.equal(page1.workflows.length, 3);
    assert.ok(!('definition' in page1.workflows[0]!), 'list summaries carry no definition');
    const page3 = await client.workflows.list({ search: tag, limit: 3, page: 3 });
    assert.equal(page3.workflows.length, 1);

    const seen: string[] = [];
    for await (const wf of client.workflows.iterate({ search: tag, limit: 3 })) seen.push(wf.id);
    assert.deepEqual([...seen].sort(), [...ids].sort());

    const active: string[] = [];
    for await (const wf of client.workflows.iterate({ search: tag, status: 'active', limit: 2 })) {
      assert.equal(wf.status, 'active');
      active.push(wf.id);
    }
    assert.equal(active.length, 3);

    // Breaking out early stops fetching; nothing is left half-done.
    let count = 0;
    for await (const _ of client.workflows.iterate({ search: tag, limit: 1 })) {
      if (++count === 2) break;
    }
    assert.equal(count, 2);

    await assert.rejects(client.workflows.list({ limit: 101 }), (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      assert.equal(err.details.field, 'limit');
      return true;
    });
    for (const id of ids) await client.workflows.delete(id);
    assert.equal((await client.workflows.list({ search: tag })).pagination.total, 0);
  });

  it('keeps numbered versions and restores one', async () => {
    const wf = await client.workflows.create({ name: uniq('ver'), definition: simpleDefinition('v1') });
    const v2 = await client.workflows.update(wf.id, {
      definition: simpleDefinition('v2'),
      version: 1,
    });
    assert.equal(v2.version, 2);
    const versions = await client.workflows.versions(wf.id);
    assert.deepEqual(
      versions.map((v) => v.version).sort(),
      [1, 2],
    );
    assert.ok(versions.every((v) => v.workflow_id === wf.id && v.definition === undefined));
    const first = await client.workflows.getVersion(wf.id, 1);
    assert.equal(first.version, 1);
    assert.equal(first.definition?.nodes[1]?.config?.message, 'v1');

    const restored: Workflow = await client.workflows.restore(wf.id, 1);
    assert.equal(restored.version, 3);
    assert.equal(restored.definition.nodes[1]?.config?.message, 'v1');
    const after = await client.workflows.versions(wf.id);
    assert.equal(after.length, 3);
    assert.equal(after.find((v) => v.version === 3)?.restored_from, 1);

    await assert.rejects(client.workflows.getVersion(wf.id, 99), NotFoundError);
    await assert.rejects(client.workflows.restore(wf.id, 99), NotFoundError);
    await client.workflows.delete(wf.id);
  });

  it('answers a bad definition with a ValidationError naming the field, and creates nothing', async () => {
    const tag = uniq('bad');
    await assert.rejects(
      client.workflows.create({
        name: tag,
        definition: {
          nodes: [{ id: 'a', type: 'node_log' }],
          connections: [{ from: 'a', to: 'missing' }],
        },
      }),
      (err: unknown) => {
        assert.ok(err instanceof ValidationError);
        assert.equal(err.status, 400);
        assert.equal(err.code, 'VALIDATION_ERROR');
        assert.equal(typeof err.details.field, 'string');
        assert.match(err.requestId ?? '', /^[0-9a-f]+$/);
        return true;
      },
    );
    await assert.rejects(
      client.workflows.create({ name: '' }),
      (err: unknown) => err instanceof ValidationError && err.details.field === 'name',
    );
    assert.equal((await client.workflows.list({ search: tag })).pagination.total, 0);
  });

  it("never shows one user's workflow to another: 404, not 403", async () => {
    const wf = await client.workflows.create({ name: uniq('mine'), definition: simpleDefinition() });
    const other = await member();
    await assert.rejects(other.client.workflows.get(wf.id), (err: unknown) => {
      assert.ok(err instanceof NotFoundError);
      assert.deepEqual(err.details, { id: wf.id });
      return true;
    });
    await assert.rejects(other.client.workflows.update(wf.id, { name: 'x' }), NotFoundError);
    await assert.rejects(other.client.workflows.delete(wf.id), NotFoundError);
    assert.equal((await other.client.workflows.list({ search: wf.name })).pagination.total, 0);
    assert.equal((await client.workflows.get(wf.id)).name, wf.name);
    await client.workflows.delete(wf.id);
  });
});
