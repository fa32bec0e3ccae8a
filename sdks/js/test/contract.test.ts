/**
 * The SDK against the server's own contract, GET /openapi.json:
 * - every route the SDK calls is in the document, with that method;
 * - every model type has exactly the fields of its schema, and every field the schema
 *   marks required (always present in answers, needed in requests) is required in the
 *   type too. The field lists below are checked against the TypeScript types at compile
 *   time (`satisfies Presence<T>`: no field missing, none extra, optionality as declared).
 */

import assert from 'node:assert/strict';
import { it } from 'node:test';

import {
  AxonOS,
  type ApiKey,
  type ApiKeyCreateParams,
  type ApiKeyCreated,
  type Connection,
  type ExecuteParams,
  type Execution,
  type ExecutionNode,
  type ExecutionPage,
  type ExecutionSummary,
  type Health,
  type LogEntry,
  type LogPage,
  type Me,
  type NodeRegisterParams,
  type NodeType,
  type Pagination,
  type Port,
  type PortSpec,
  type Position,
  type RetryParams,
  type TokenResponse,
  type User,
  type UserRef,
  type Workflow,
  type WorkflowCreateParams,
  type WorkflowDefinition,
  type WorkflowNode,
  type WorkflowPage,
  type WorkflowSummary,
  type WorkflowUpdateParams,
  type WorkflowVersion,
} from '@axonos/sdk';

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

it('every route the SDK calls is one the OpenAPI document describes', async () => {
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
  assert.ok(calls.length >= 30);
  for (const [method, path] of calls) {
    const samePath = templates.filter((tpl) => tpl.pattern.test(path));
    assert.ok(samePath.length > 0, `${method} ${path} is not in openapi.json`);
    assert.ok(
      samePath.some((tpl) => tpl.method === method),
      `${method} ${path}: the document has ${samePath.map((tpl) => tpl.method).join(', ')} there`,
    );
  }
});

/** Each field of T: 'required' or 'optional', exactly as T declares it. */
type Presence<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? 'optional' : 'required' };

// Response models.
const health = { status: 'required', version: 'required' } satisfies Presence<Health>;
const userRef = { id: 'required', email: 'required', name: 'required' } satisfies Presence<UserRef>;
const user = { ...userRef, role: 'required', plan: 'required' } satisfies Presence<User>;
const me = { user: 'required', via: 'required' } satisfies Presence<Me>;
const tokenResponse = {
  token: 'required',
  token_type: 'required',
  expires_in: 'required',
  refresh_token: 'required',
  refresh_expires_in: 'required',
  user: 'required',
} satisfies Presence<TokenResponse>;
const apiKey = {
  id: 'required',
  name: 'required',
  prefix: 'required',
  scopes: 'required',
  created_at: 'required',
  expires_at: 'required',
  last_used_at: 'required',
  revoked: 'required',
} satisfies Presence<ApiKey>;
const apiKeyCreated = { ...apiKey, key: 'required' } satisfies Presence<ApiKeyCreated>;
const pagination = {
  page: 'required',
  limit: 'required',
  total: 'required',
  total_pages: 'required',
} satisfies Presence<Pagination>;
const position = { x: 'required', y: 'required' } satisfies Presence<Position>;
const definitionNode = {
  id: 'required',
  type: 'required',
  name: 'optional',
  version: 'optional',
  position: 'optional',
  config: 'optional',
  retry: 'optional',
  timeout_s: 'optional',
  disabled: 'optional',
} satisfies Presence<WorkflowNode>;
const connection = {
  from: 'required',
  to: 'required',
  sourcePort: 'optional',
  targetPort: 'optional',
} satisfies Presence<Connection>;
const definition = { nodes: 'required', connections: 'required' } satisfies Presence<WorkflowDefinition>;
const workflowSummary = {
  id: 'required',
  name: 'required',
  description: 'required',
  status: 'required',
  created_at: 'required',
  updated_at: 'required',
  node_count: 'required',
  execution_count: 'required',
  version: 'required',
} satisfies Presence<WorkflowSummary>;
const workflow = { ...workflowSummary, definition: 'required', settings: 'required' } satisfies Presence<Workflow>;
const workflowPage = { workflows: 'required', pagination: 'required' } satisfies Presence<WorkflowPage>;
const workflowVersion = {
  workflow_id: 'required',
  version: 'required',
  name: 'required',
  description: 'required',
  status: 'required',
  created_at: 'required',
  restored_from: 'required',
  node_count: 'required',
  definition: 'optional',
} satisfies Presence<WorkflowVersion>;
const port = { name: 'required', type: 'required', required: 'required', description: 'required' } satisfies Presence<Port>;
const nodeType = {
  id: 'required',
  name: 'required',
  description: 'required',
  category: 'required',
  version: 'required',
  inputs: 'required',
  outputs: 'required',
  config_schema: 'required',
  builtin: 'required',
  code_hash: 'optional',
  created_at: 'optional',
} satisfies Presence<NodeType>;
const executionSummary = {
  id: 'required',
  workflow_id: 'required',
  workflow_version: 'required',
  status: 'required',
  progress: 'required',
  current_node: 'required',
  input: 'required',
  output: 'required',
  error: 'required',
  node_versions: 'required',
  retry_of: 'required',
  retry_mode: 'required',
  created_at: 'required',
  started_at: 'required',
  finished_at: 'required',
  duration: 'required',
} satisfies Presence<ExecutionSummary>;
const execution = { ...executionSummary, nodes: 'required' } satisfies Presence<Execution>;
const executionNode = {
  node_id: 'required',
  type: 'required',
  version: 'required',
  status: 'required',
  attempts: 'required',
  reused: 'required',
  started_at: 'required',
  finished_at: 'required',
  duration: 'required',
  outputs: 'required',
  error: 'required',
} satisfies Presence<ExecutionNode>;
const executionPage = { executions: 'required', pagination: 'required' } satisfies Presence<ExecutionPage>;
const logEntry = {
  id: 'required',
  timestamp: 'required',
  level: 'required',
  node_id: 'required',
  message: 'required',
} satisfies Presence<LogEntry>;
const logPage = { logs: 'required', pagination: 'required' } satisfies Presence<LogPage>;

// Request bodies (`wait` is a query parameter, not part of the body).
const apiKeyCreate = {
  name: 'optional',
  scopes: 'optional',
  expires_in_days: 'optional',
} satisfies Presence<ApiKeyCreateParams>;
const workflowCreate = {
  name: 'required',
  description: 'optional',
  status: 'optional',
  definition: 'optional',
  settings: 'optional',
} satisfies Presence<WorkflowCreateParams>;
const workflowUpdate = {
  name: 'optional',
  description: 'optional',
  status: 'optional',
  definition: 'optional',
  settings: 'optional',
  version: 'optional',
} satisfies Presence<WorkflowUpdateParams>;
const portCreate = {
  name: 'required',
  type: 'optional',
  required: 'optional',
  description: 'optional',
} satisfies Presence<PortSpec>;
const nodeTypeCreate = {
  id: 'required',
  name: 'required',
  description: 'optional',
  category: 'optional',
  version: 'required',
  code: 'required',
  inputs: 'optional',
  outputs: 'optional',
  config_schema: 'optional',
} satisfies Presence<NodeRegisterParams>;
const { wait: _executeWait, ...executeRequest } = {
  input: 'optional',
  wait: 'optional',
} satisfies Presence<ExecuteParams>;
const { wait: _retryWait, ...retryRequest } = {
  mode: 'optional',
  node_id: 'optional',
  workflow_version: 'optional',
  wait: 'optional',
} satisfies Presence<RetryParams>;

const RESPONSES: Record<string, Record<string, string>> = {
  Health: health,
  UserRef: userRef,
  User: user,
  Me: me,
  TokenResponse: tokenResponse,
  ApiKey: apiKey,
  ApiKeyCreated: apiKeyCreated,
  Pagination: pagination,
  Position: position,
  DefinitionNode: definitionNode,
  Connection: connection,
  Definition: definition,
  WorkflowSummary: workflowSummary,
  Workflow: workflow,
  WorkflowList: workflowPage,
  WorkflowRevision: workflowVersion,
  Port: port,
  NodeType: nodeType,
  ExecutionSummary: executionSummary,
  Execution: execution,
  ExecutionNode: executionNode,
  ExecutionList: executionPage,
  LogEntry: logEntry,
  LogPage: logPage,
};
const REQUESTS: Record<string, Record<string, string>> = {
  ApiKeyCreate: apiKeyCreate,
  WorkflowCreate: workflowCreate,
  WorkflowUpdate: workflowUpdate,
  PortCreate: portCreate,
  NodeTypeCreate: nodeTypeCreate,
  ExecuteRequest: executeRequest,
  RetryRequest: retryRequest,
};

interface Schema {
  $ref?: string;
  allOf?: Schema[];
  properties?: Record<string, unknown>;
  required?: string[];
}

/** Properties and required names of a schema, through `$ref` and `allOf`. */
function flatten(schema: Schema, all: Record<string, Schema>): { props: Set<string>; required: Set<string> } {
  if (schema.$ref) return flatten(all[schema.$ref.split('/').pop()!]!, all);
  const props = new Set(Object.keys(schema.properties ?? {}));
  const required = new Set(schema.required ?? []);
  for (const part of schema.allOf ?? []) {
    const sub = flatten(part, all);
    sub.props.forEach((p) => props.add(p));
    sub.required.forEach((p) => required.add(p));
  }
  return { props, required };
}

it('every model type has the fields of its OpenAPI schema', async () => {
  const srv = await server();
  const doc = (await (await fetch(`${srv.apiUrl}/openapi.json`)).json()) as {
    components: { schemas: Record<string, Schema> };
  };
  const schemas = doc.components.schemas;
  const check = (name: string, fields: Record<string, string>, request: boolean) => {
    const schema = schemas[name];
    assert.ok(schema, `openapi.json has no schema ${name}`);
    const { props, required } = flatten(schema, schemas);
    assert.deepEqual(Object.keys(fields).sort(), [...props].sort(), `${name}: field names`);
    const typeRequired = Object.keys(fields).filter((k) => fields[k] === 'required');
    for (const field of required) {
      assert.ok(typeRequired.includes(field), `${name}.${field} is required in the schema`);
    }
    if (request) {
      assert.deepEqual(typeRequired.sort(), [...required].sort(), `${name}: required fields`);
    }
  };
  for (const [name, fields] of Object.entries(RESPONSES)) check(name, fields, false);
  for (const [name, fields] of Object.entries(REQUESTS)) check(name, fields, true);
});
