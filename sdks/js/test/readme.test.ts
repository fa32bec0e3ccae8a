/** The seed's (and README's) example, line for line, against a real server. */

import assert from 'node:assert/strict';
import { it } from 'node:test';

import { AxonOS } from '@axonos/sdk';

import { server, sharedFixtures, simpleDefinition, uniq } from './support/env.js';

it("runs the seed's TypeScript example verbatim", async () => {
  const srv = await server();
  // An API key made the way a user makes one: `jupyter axon create-api-key`.
  const your_api_key = (await sharedFixtures()).adminApiKey;
  const setup = await AxonOS.login(srv.adminEmail, srv.adminPassword, { baseUrl: srv.apiUrl });
  const wf_123 = (
    await setup.workflows.create({ name: uniq('Data Processing Pipeline '), definition: simpleDefinition() })
  ).id;

  // --- the example ---
  const client = new AxonOS({
    apiKey: your_api_key,
    baseUrl: srv.apiUrl,
  });

  // List workflows
  const workflows = await client.workflows.list();

  // Execute workflow
  const execution = await client.workflows.execute(wf_123);
  // --- end of the example ---

  assert.ok(workflows.workflows.some((wf) => wf.id === wf_123));
  assert.equal(workflows.pagination.page, 1);
  assert.equal(workflows.pagination.limit, 10);
  assert.match(execution.id, /^exec_/);
  assert.equal(execution.workflow_id, wf_123);
  assert.ok(['queued', 'running', 'succeeded'].includes(execution.status));
  const done = await client.executions.wait(execution.id, { timeout: 30_000 });
  assert.equal(done.status, 'succeeded');
  assert.equal((await client.auth.me()).via, 'api_key');
  console.log(
    `seed example: listed ${workflows.pagination.total} workflow(s); execution ${execution.id} ${execution.status} -> ${done.status}`,
  );
});
