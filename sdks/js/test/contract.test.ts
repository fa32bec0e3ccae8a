/**
 * The SDK against the server's own contract, GET /openapi.json: every route the SDK calls
 * that the document describes must match it in method and path. (Routes the document
 * does not describe yet are listed as a diagnostic; the resource tests exercise them all
 * against the live server.)
 */

import assert from 'node:assert/strict';
import { it } from 'node:test';

import { AxonOS } from '@axonos/sdk';

import { server } from './support/env.js';

/** A body every SDK method can read: empty lists, one page, a finished run, tokens. */
const CANNED = {
  api_keys: [],
  versions: [],
  nodes: [],
  workflows: [],
  executions: [],
  logs: [],
  pagination: { page: 1, limit: 10, total: 0, total_pages: 1, next_after: 0, has_more: false },
  status: 'succeeded',
  token: 'access',
  refresh_token: 'refresh',
  expires_in: 3600,
};

it('every route the SDK calls is one the OpenAPI document describes (where it describes it)', async (t) => {
  const srv = await server();
  const doc = (await (await fetch(`${srv.apiUrl}/openapi.json`)).json()) as {
    openapi: string;
    paths: Record<string, Record<string, unknown>>;
  };
  assert.match(doc.openapi, /^3\.1/);

  const calls: Array<[string, string]> = [];
  const client = new AxonOS({
    apiKey: 'axon_recorder',
    baseUrl: 'http://sdk.invalid/axon/v1',
    fetch: async (input, init) => {
      const url = new URL(String(input));
      calls.push([String(init?.method ?? 'GET'), url.pathname.replace(/^\/axon\/v1/, '')]);
      return new Response(JSON.stringify(CANNED), {
        status: 200,
        headers: { 'Content-Type': 'application/json' },
      });
    },
  });
  await client.health();
  await client.auth.login('a@example.com', 'pw');
  await client.auth.refresh();
  await client.auth.me();
  await client.auth.logout();
  await client.apiKeys.create({ name: 'k' });
  await client.apiKeys.list();
  await client.apiKeys.revoke('key_1');
  await client.workflows.list();
  for await (const _ of client.workflows.iterate()) break;
  await client.workflows.create({ name: 'w' });
  await client.workflows.get('wf_1');
  await client.workflows.update('wf_1', { name: 'w2', version: 1 });
  await client.workflows.delete('wf_1');
  await client.workflows.execute('wf_1', { input: {}, wait: 1 });
  await client.workflows.executions('wf_1');
  await client.workflows.versions('wf_1');
  await client.workflows.getVersion('wf_1', 1);
  await client.workflows.restore('wf_1', 1);
  await client.nodes.list();
  await client.nodes.get('node_log');
  await client.nodes.register({ id: 'n', name: 'n', version: '1.0.0', code: 'def run(i, c): return i' });
  await client.nodes.versions('node_log');
  await client.executions.list();
  await client.executions.get('exec_1');
  await client.executions.stop('exec_1');
  await client.executions.logs('exec_1');
  await client.executions.retry('exec_1');
  await client.executions.wait('exec_1');
  for await (const _ of client.executions.tail('exec_1', { follow: false })) break;

  const templates = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops).map((method) => ({
      method: method.toUpperCase(),
      path,
      pattern: new RegExp('^' + path.replace(/\{[^}]+\}/g, '[^/]+') + '$'),
    })),
  );
  const undocumented = new Set<string>();
  for (const [method, path] of calls) {
    const samePath = templates.filter((tpl) => tpl.pattern.test(path));
    if (samePath.length === 0) {
      undocumented.add(`${method} ${path}`);
      continue;
    }
    assert.ok(
      samePath.some((tpl) => tpl.method === method),
      `${method} ${path}: the document has ${samePath.map((tpl) => tpl.method).join(', ')} there`,
    );
  }
  const documented = calls.length - [...undocumented].length;
  assert.ok(documented >= 20, `most SDK routes are in the document (${documented})`);
  if (undocumented.size) t.diagnostic(`not in openapi.json yet: ${[...undocumented].join('; ')}`);
});
