import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  AxonOS,
  ConflictError,
  NotFoundError,
  ValidationError,
  WaitTimeoutError,
  type ExecutionUpdate,
  type NodeUpdate,
  type WorkflowDefinition,
} from '@axonos/sdk';

import { adminClient, member, uniq } from './support/env.js';

const trigger = { id: 'start', type: 'node_manual_trigger', position: { x: 0, y: 0 } };
const edge = (from: string, to: string) => ({ from, to, sourcePort: 'output', targetPort: 'input' });

/** start -> (delay seconds) -> log: logs the input, outputs it. */
function delayed(seconds: number, message = 'hello {{ input.name | default("nobody") }}'): WorkflowDefinition {
  return {
    nodes: [
      trigger,
      { id: 'wait', type: 'node_delay', position: { x: 100, y: 0 }, config: { seconds } },
      { id: 'log', type: 'node_log', position: { x: 200, y: 0 }, config: { message } },
    ],
    connections: [edge('start', 'wait'), edge('wait', 'log')],
  };
}

/** start -> an HTTP request the SSRF policy refuses (loopback): the run fails. */
const failing: WorkflowDefinition = {
  nodes: [
    trigger,
    {
      id: 'fetch',
      type: 'node_http_request',
      position: { x: 100, y: 0 },
      config: { url: 'http://127.0.0.1:9/nothing', method: 'GET' },
    },
  ],
  connections: [edge('start', 'fetch')],
};

describe('executions', () => {
  let client: AxonOS;
  const workflows: string[] = [];
  const workflow = async (definition: WorkflowDefinition) => {
    const wf = await client.workflows.create({ name: uniq('exec'), definition });
    workflows.push(wf.id);
    return wf;
  };

  before(async () => {
    client = await adminClient();
  });
  after(async () => {
    for (const id of workflows) await client.workflows.delete(id);
  });

  it('execute with wait answers the finished run; logs and history follow', async () => {
    const wf = await workflow(delayed(0));
    const run = await client.workflows.execute(wf.id, { input: { name: 'Ada' }, wait: 30 });
    assert.match(run.id, /^exec_/);
    assert.equal(run.workflow_id, wf.id);
    assert.equal(run.status, 'succeeded');
    assert.equal(run.progress, 1);
    assert.deepEqual(run.input, { name: 'Ada' });
    assert.equal(run.workflow_version, wf.version);
    assert.ok(run.node_versions.log?.startsWith('node_log@'));
    assert.deepEqual(run.nodes.map((n) => [n.node_id, n.status]), [
      ['start', 'succeeded'],
      ['wait', 'succeeded'],
      ['log', 'succeeded'],
    ]);
    assert.ok(run.finished_at && typeof run.duration === 'number');

    const logs = await client.executions.logs(run.id);
    const line = logs.logs.find((l) => l.node_id === 'log');
    assert.equal(line?.message, 'hello Ada');
    assert.equal(line?.level, 'info');
    assert.equal(logs.pagination.has_more, false);
    const afterLast = await client.executions.logs(run.id, { after: logs.pagination.next_after });
    assert.deepEqual(afterLast.logs, []);
    const tailed = [];
    for await (const entry of client.executions.tail(run.id)) tailed.push(entry.message);
    assert.ok(tailed.includes('hello Ada'));

    const history = await client.workflows.executions(wf.id);
    assert.equal(history.pagination.total, 1);
    assert.equal(history.executions[0]?.id, run.id);
    assert.equal('nodes' in history.executions[0]!, false, 'list summaries carry no nodes');
    assert.equal((await client.workflows.get(wf.id)).execution_count, 1);
    await assert.rejects(client.executions.logs('exec_missing'), NotFoundError);
  });

  it('execute answers queued at once; wait() polls to the end', async () => {
    const wf = await workflow(delayed(0.3));
    const run = await client.workflows.execute(wf.id, { input: { name: 'Bo' } });
    assert.ok(['queued', 'running'].includes(run.status));
    const done = await client.executions.wait(run.id, { timeout: 30_000 });
    assert.equal(done.status, 'succeeded');
    assert.equal((await client.executions.get(run.id)).status, 'succeeded');

    const slow = await client.workflows.execute(wf.id);
    await assert.rejects(client.executions.wait(slow.id, { timeout: 50 }), (err: unknown) => {
      assert.ok(err instanceof WaitTimeoutError);
      assert.equal(err.executionId, slow.id);
      return true;
    });
    await client.executions.wait(slow.id);
  });

  it('lists and iterates over pages, filtered by workflow and status', async () => {
    const wf = await workflow(delayed(0));
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await client.workflows.execute(wf.id, { wait: 30 })).id);
    const page = await client.executions.list({ workflow_id: wf.id, limit: 2 });
    assert.deepEqual(page.pagination, { page: 1, limit: 2, total: 5, total_pages: 3 });
    assert.deepEqual(page.executions.map((e) => e.id), [ids[4], ids[3]], 'newest first');
    const all = [];
    for await (const ex of client.executions.iterate({ workflow_id: wf.id, limit: 2 })) all.push(ex.id);
    assert.deepEqual(all, [...ids].reverse());
    const succeeded = await client.executions.list({ workflow_id: wf.id, status: 'succeeded' });
    assert.equal(succeeded.pagination.total, 5);
    const failed = await client.executions.list({ workflow_id: wf.id, status: 'failed' });
    assert.equal(failed.pagination.total, 0);
    await assert.rejects(
      client.executions.list({ status: 'sleeping' as never }),
      (err: unknown) => err instanceof ValidationError && err.details.field === 'status',
    );
  });

  it('stop ends a running execution; stopping it again is a ConflictError', async () => {
    const wf = await workflow(delayed(30));
    const run = await client.workflows.execute(wf.id);
    const stopped = await client.executions.stop(run.id);
    assert.equal(stopped.status, 'stopped');
    assert.equal((await client.executions.get(run.id)).status, 'stopped');
    await assert.rejects(client.executions.stop(run.id), (err: unknown) => {
      assert.ok(err instanceof ConflictError);
      assert.equal(err.details.status, 'stopped');
      return true;
    });
    await assert.rejects(client.executions.stop('exec_missing'), NotFoundError);
  });

  it('retry runs a failed execution again as a new one', async () => {
    const wf = await workflow(failing);
    const run = await client.workflows.execute(wf.id, { wait: 30 });
    assert.equal(run.status, 'failed');
    assert.ok(run.error);
    assert.equal(run.nodes.find((n) => n.node_id === 'fetch')?.status, 'failed');

    const again = await client.executions.retry(run.id, { mode: 'from_start', wait: 30 });
    assert.notEqual(again.id, run.id);
    assert.equal(again.retry_of, run.id);
    assert.equal(again.retry_mode, 'from_start');
    assert.equal(again.status, 'failed');

    const fromFailed = await client.executions.retry(run.id);
    assert.equal(fromFailed.retry_mode, 'from_failed');
    assert.equal((await client.executions.wait(fromFailed.id)).status, 'failed');
    await assert.rejects(
      client.executions.retry(run.id, { mode: 'from_node' }),
      (err: unknown) => err instanceof ValidationError && err.details.field === 'node_id',
    );

    const ok = await client.workflows.execute((await workflow(delayed(0))).id, { wait: 30 });
    await assert.rejects(client.executions.retry(ok.id), ConflictError);
    assert.equal((await client.executions.list({ workflow_id: wf.id })).pagination.total, 3);
  });

  it('stream() yields live updates over the WebSocket until the terminal one', async () => {
    const wf = await workflow(delayed(1));
    const run = await client.workflows.execute(wf.id, { input: { name: 'Cy' } });
    const updates: ExecutionUpdate[] = [];
    const nodeUpdates: NodeUpdate[] = [];
    for await (const update of client.executions.stream(run.id, {
      onNodeUpdate: (u) => nodeUpdates.push(u),
      timeout: 30_000,
    })) {
      assert.equal(update.execution_id, run.id);
      assert.equal(update.workflow_id, wf.id);
      updates.push(update);
    }
    const last = updates.at(-1)!;
    assert.equal(last.status, 'succeeded');
    assert.equal(last.progress, 1);
    assert.ok(updates.length >= 2, `live updates, not just a final read: ${JSON.stringify(updates)}`);
    assert.ok(
      updates.some((u) => u.status === 'running'),
      'saw the run in progress',
    );
    assert.ok(nodeUpdates.some((u) => u.node_id === 'wait' && u.status === 'succeeded'));
    // Terminal statuses never change, and the stream ended on one.
    assert.equal((await client.executions.get(run.id)).status, 'succeeded');
  });

  it('stream() of a finished run yields its final state once; of a stranger, NotFoundError', async () => {
    const wf = await workflow(delayed(0));
    const run = await client.workflows.execute(wf.id, { wait: 30 });
    const updates = [];
    for await (const u of client.executions.stream(run.id)) updates.push(u);
    assert.deepEqual(updates, [
      {
        execution_id: run.id,
        workflow_id: wf.id,
        status: 'succeeded',
        progress: 1,
        current_node: run.current_node,
      },
    ]);
    const other = await member();
    await assert.rejects(async () => {
      for await (const _ of other.client.executions.stream(run.id)) assert.fail('nothing to see');
    }, NotFoundError);
    await assert.rejects(other.client.executions.get(run.id), NotFoundError);
  });

  it('stream() stops on abort and on its own deadline', async () => {
    const wf = await workflow(delayed(30));
    const run = await client.workflows.execute(wf.id);
    await assert.rejects(async () => {
      for await (const _ of client.executions.stream(run.id, { timeout: 800 })) {
        // the first update arrives; then nothing until the deadline
      }
    }, WaitTimeoutError);
    const controller = new AbortController();
    let seen = 0;
    await assert.rejects(async () => {
      for await (const _ of client.executions.stream(run.id, { signal: controller.signal })) {
        seen++;
        controller.abort();
      }
    }, (err: unknown) => (err as Error).name === 'APIUserAbortError');
    assert.equal(seen, 1);
    await client.executions.stop(run.id);
  });
});
