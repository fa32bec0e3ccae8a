/** The WebSocket itself (`EventSocket`): auth, subscriptions, errors, close codes. */

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import { AxonOS, EventSocket, NotFoundError, StreamError, type ServerEvent } from '@axonos/sdk';

import { adminClient, server, sharedFixtures, simpleDefinition, uniq } from './support/env.js';

describe('EventSocket', () => {
  let client: AxonOS;
  before(async () => {
    client = await adminClient();
  });

  it('authenticates with a JWT or an API key and says who it serves', async () => {
    const socket = await EventSocket.connect(client);
    assert.equal(socket.user?.email, (await server()).adminEmail);
    assert.deepEqual(socket.subscriptions, { workflow_ids: [], execution_ids: [] });
    socket.close();
    assert.equal(socket.closed, true);
    assert.equal(await socket.next(), null);

    const byKey = new AxonOS({ apiKey: (await sharedFixtures()).adminApiKey, baseUrl: client.baseUrl });
    const keyed = await EventSocket.connect(byKey);
    assert.equal(keyed.user?.email, (await server()).adminEmail);
    keyed.close();
  });

  it('refuses a bad credential with close code 4401', async () => {
    const bad = new AxonOS({ apiKey: 'axon_not_a_real_key', baseUrl: client.baseUrl });
    await assert.rejects(EventSocket.connect(bad), (err: unknown) => {
      assert.ok(err instanceof StreamError);
      assert.equal(err.closeCode, 4401);
      return true;
    });
    await assert.rejects(
      EventSocket.connect(new AxonOS({ baseUrl: client.baseUrl, apiKey: null, token: null })),
      StreamError,
    );
  });

  it('delivers the events of a subscribed workflow, and refuses unknown ids', async () => {
    const wf = await client.workflows.create({ name: uniq('ws'), definition: simpleDefinition() });
    const socket = await EventSocket.connect(client);
    try {
      const subs = await socket.subscribe({ workflow_id: wf.id });
      assert.deepEqual(subs.workflow_ids, [wf.id]);
      await assert.rejects(socket.subscribe({ execution_id: 'exec_nope' }), NotFoundError);

      const run = await client.workflows.execute(wf.id);
      const seen: ServerEvent[] = [];
      for await (const event of socket) {
        seen.push(event);
        if (event.type === 'execution_update' && event.data.status === 'succeeded') break;
      }
      assert.ok(seen.every((e) => e.data?.workflow_id === wf.id));
      assert.ok(seen.some((e) => e.type === 'node_update' && e.data.execution_id === run.id));
      assert.equal(seen.at(-1)?.data.execution_id, run.id);
      assert.equal(socket.closed, true, 'leaving the loop closes the socket');
    } finally {
      socket.close();
      await client.workflows.delete(wf.id);
    }
  });
});
