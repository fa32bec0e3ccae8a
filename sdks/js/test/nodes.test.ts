import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import {
  AxonOS,
  ConflictError,
  NotFoundError,
  PermissionDeniedError,
  ValidationError,
  type NodeType,
} from '@axonos/sdk';

import { adminClient, member, uniq } from './support/env.js';

const CODE = `def run(inputs, config):
    return {"output": {"doubled": (inputs.get("input") or 0) * 2}}
`;

describe('nodes', () => {
  let admin: AxonOS;
  before(async () => {
    admin = await adminClient();
  });

  it('lists the built-in catalog in the seed shape, with filters', async () => {
    const nodes = await admin.nodes.list();
    const ids = nodes.map((n) => n.id);
    for (const id of ['node_manual_trigger', 'node_http_request', 'node_python', 'node_log', 'node_delay']) {
      assert.ok(ids.includes(id), `${id} is built in`);
    }
    const http = nodes.find((n) => n.id === 'node_http_request')!;
    assert.equal(http.builtin, true);
    assert.equal(http.category, 'integration');
    assert.match(http.version, /^\d+\.\d+\.\d+$/);
    const url = http.inputs.find((p) => p.name === 'url');
    assert.ok(url, 'the seed: input url');
    assert.equal(url.type, 'string');
    assert.ok(http.outputs.some((p) => p.name === 'response'));
    assert.equal(http.config_schema.type, 'object');

    const integration = await admin.nodes.list({ category: 'integration' });
    assert.ok(integration.length > 0 && integration.every((n) => n.category === 'integration'));
    const searched = await admin.nodes.list({ search: 'HTTP' });
    assert.ok(searched.some((n) => n.id === 'node_http_request'));
    assert.ok((await admin.nodes.list({ builtin: true })).every((n) => n.builtin));

    const got = await admin.nodes.get('node_http_request');
    assert.deepEqual(got, http);
    assert.deepEqual(
      (await admin.nodes.versions('node_http_request')).map((n) => n.version),
      [http.version],
    );
    await assert.rejects(admin.nodes.get('node_does_not_exist'), NotFoundError);
  });

  it('registers custom node versions; the same version twice is a ConflictError', async () => {
    const id = uniq('double_');
    const v1: NodeType = await admin.nodes.register({
      id,
      name: 'Double',
      description: 'Doubles its input',
      version: '1.0.0',
      code: CODE,
    });
    assert.equal(v1.id, id);
    assert.equal(v1.builtin, false);
    assert.equal(v1.category, 'custom');
    assert.deepEqual(v1.inputs.map((p) => p.name), ['input']);
    assert.deepEqual(v1.outputs.map((p) => p.name), ['output']);
    assert.match(v1.code_hash ?? '', /^[0-9a-f]{64}$/);

    const v2 = await admin.nodes.register({
      id,
      name: 'Double',
      version: '1.1.0',
      code: CODE.replace('* 2', '* 2 + 0'),
      inputs: [{ name: 'input', type: 'number', required: true }],
    });
    assert.equal(v2.version, '1.1.0');
    assert.equal(v2.inputs[0]?.required, true);

    assert.equal((await admin.nodes.get(id)).version, '1.1.0', 'latest by default');
    assert.equal((await admin.nodes.get(id, { version: '1.0.0' })).code_hash, v1.code_hash);
    const versions = await admin.nodes.versions(id);
    assert.deepEqual(versions.map((n) => n.version).sort(), ['1.0.0', '1.1.0']);
    assert.ok((await admin.nodes.list({ builtin: false })).some((n) => n.id === id));

    await assert.rejects(
      admin.nodes.register({ id, name: 'Double', version: '1.0.0', code: CODE }),
      ConflictError,
    );
    assert.equal((await admin.nodes.versions(id)).length, 2, 'nothing added');
  });

  it('refuses bad registrations field by field, and hides custom nodes from others', async () => {
    const id = uniq('bad_');
    await assert.rejects(
      admin.nodes.register({ id, name: 'x', version: 'not a version', code: CODE }),
      (err: unknown) => err instanceof ValidationError && err.details.field === 'version',
    );
    await assert.rejects(
      admin.nodes.register({ id: '1nvalid id', name: 'x', version: '1.0.0', code: CODE }),
      (err: unknown) => err instanceof ValidationError && err.details.field === 'id',
    );
    await assert.rejects(
      admin.nodes.register({ id, name: 'x', version: '1.0.0', code: 'x = 1\n' }),
      (err: unknown) => err instanceof ValidationError && err.details.field === 'code',
    );
    await assert.rejects(admin.nodes.get(id), NotFoundError);

    const mine = uniq('mine_');
    await admin.nodes.register({ id: mine, name: 'Mine', version: '1.0.0', code: CODE });
    const other = await member();
    await assert.rejects(other.client.nodes.get(mine), NotFoundError);
    assert.ok(!(await other.client.nodes.list()).some((n) => n.id === mine));
    // Code nodes are the owner's and admins' by default (trait code_nodes=owner).
    await assert.rejects(
      other.client.nodes.register({ id: uniq('m_'), name: 'x', version: '1.0.0', code: CODE }),
      PermissionDeniedError,
    );
  });
});
