/**
 * Request and response models: the JSON the Axon REST API speaks, field for field.
 *
 * Names stay snake_case as on the wire (no hidden renaming), times are RFC 3339 UTC
 * strings with a `Z`. The tests check these shapes against real server answers.
 */

// ------------------------------------------------------------------ shared

/** The `pagination` object of every paged list. */
export interface Pagination {
  page: number;
  limit: number;
  total: number;
  total_pages: number;
}

/** `page` >= 1, 1 <= `limit` <= 100 (server default 10). */
export interface PageParams {
  page?: number;
  limit?: number;
}

/** Anything JSON can carry. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** `GET /health`. */
export interface Health {
  status: 'ok' | string;
  version: string;
}

/** `X-RateLimit-*` headers of the last authenticated answer. */
export interface RateLimitInfo {
  limit: number;
  remaining: number;
  /** Unix seconds when the window has room again. */
  reset: number;
}

// ------------------------------------------------------------------ auth

export type Plan = 'standard' | 'pro' | 'enterprise';
export type Role = 'admin' | 'member';

/** The short user object login answers with (the seed's shape). */
export interface UserRef {
  id: string;
  email: string;
  name: string;
}

export interface User extends UserRef {
  role: Role;
  plan: Plan;
}

/** `POST /auth/login` and `POST /auth/refresh`. */
export interface TokenResponse {
  token: string;
  token_type: 'Bearer';
  /** Seconds the access token lives. */
  expires_in: number;
  refresh_token: string;
  refresh_expires_in: number;
  user: UserRef;
}

/** `GET /auth/me`: who the credential acts as, and through what. */
export interface Me {
  user: User;
  via: 'jwt' | 'api_key' | 'oauth' | 'jupyter';
}

// ------------------------------------------------------------------ API keys

export type Scope = 'workflows:read' | 'workflows:write' | 'executions:run' | 'nodes:write' | 'admin';

export interface ApiKey {
  id: string;
  name: string;
  /** The readable start of the key, to tell keys apart in lists. */
  prefix: string;
  scopes: Scope[];
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked: boolean;
}

/** `POST /api-keys` answers the key itself once; it is never shown again. */
export interface ApiKeyCreated extends ApiKey {
  key: string;
}

export interface ApiKeyCreateParams {
  name?: string;
  /** Default: every scope the user may hold. */
  scopes?: Scope[];
  expires_in_days?: number;
}

// ------------------------------------------------------------------ workflows

export type WorkflowStatus = 'active' | 'inactive' | 'draft';

export interface Position {
  x: number;
  y: number;
}

export interface WorkflowNode {
  id: string;
  type: string;
  name?: string;
  /** Pin a node type version; otherwise the latest runs and is recorded. */
  version?: string;
  position?: Position;
  config?: JsonObject;
  retry?: { max_attempts?: number; backoff_s?: number };
  timeout_s?: number;
  disabled?: boolean;
}

export interface Connection {
  from: string;
  to: string;
  sourcePort?: string;
  targetPort?: string;
}

export interface WorkflowDefinition {
  nodes: WorkflowNode[];
  connections: Connection[];
}

/** A workflow in lists (`GET /workflows`): no definition. */
export interface WorkflowSummary {
  id: string;
  name: string;
  description: string;
  status: WorkflowStatus;
  created_at: string;
  updated_at: string;
  node_count: number;
  execution_count: number;
  /** Revision number; send it back on update for optimistic concurrency. */
  version: number;
}

export interface Workflow extends WorkflowSummary {
  definition: WorkflowDefinition;
  settings: JsonObject;
}

export interface WorkflowPage {
  workflows: WorkflowSummary[];
  pagination: Pagination;
}

export interface WorkflowListParams extends PageParams {
  status?: WorkflowStatus;
  /** Matches name and description. */
  search?: string;
}

export interface WorkflowCreateParams {
  name: string;
  description?: string;
  status?: WorkflowStatus;
  definition?: WorkflowDefinition;
  settings?: JsonObject;
}

export interface WorkflowUpdateParams {
  name?: string;
  description?: string;
  status?: WorkflowStatus;
  definition?: WorkflowDefinition;
  settings?: JsonObject;
  /** The version you read: a stale one answers 409 CONFLICT. */
  version?: number;
}

/** A numbered revision; `definition` only when fetched one by one. */
export interface WorkflowVersion {
  workflow_id: string;
  version: number;
  name: string;
  description: string;
  status: WorkflowStatus;
  created_at: string;
  restored_from: number | null;
  node_count: number;
  definition?: WorkflowDefinition;
}

export interface WorkflowVersionList {
  versions: WorkflowVersion[];
}

// ------------------------------------------------------------------ nodes

export interface Port {
  name: string;
  type: string;
  required?: boolean;
  description?: string;
}

export interface NodeType {
  id: string;
  name: string;
  description: string;
  category: string;
  version: string;
  inputs: Port[];
  outputs: Port[];
  /** JSON Schema of the node's `config`. */
  config_schema: JsonObject;
  builtin: boolean;
  created_at?: string | null;
}

export interface NodeList {
  nodes: NodeType[];
}

export interface NodeListParams {
  category?: string;
  search?: string;
  version?: string;
}

/** `POST /nodes`: a custom node from Python source defining `run(inputs, config)`. */
export interface NodeRegisterParams {
  id: string;
  name?: string;
  description?: string;
  category?: string;
  version: string;
  code: string;
  inputs?: Port[];
  outputs?: Port[];
  config_schema?: JsonObject;
}

export interface NodeVersionList {
  versions: NodeType[];
}

// ------------------------------------------------------------------ executions

export type ExecutionStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'stopped';
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'stopped']);

export interface ExecutionNode {
  node_id: string;
  type?: string;
  version?: string | null;
  status: string;
  attempts: number;
  started_at: string | null;
  finished_at: string | null;
  outputs?: JsonValue;
  error?: JsonValue;
}

export interface Execution {
  id: string;
  workflow_id: string;
  status: ExecutionStatus;
  /** 0..1 */
  progress: number;
  current_node: string | null;
  input: JsonObject;
  /** Outputs of the sink nodes once finished. */
  output: JsonValue;
  error: JsonValue;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** Seconds, once finished. */
  duration: number | null;
  nodes?: ExecutionNode[] | Record<string, ExecutionNode>;
  [key: string]: unknown;
}

export interface ExecutionPage {
  executions: Execution[];
  pagination: Pagination;
}

export interface ExecutionListParams extends PageParams {
  workflow_id?: string;
  status?: ExecutionStatus;
}

export interface ExecuteParams {
  input?: JsonObject;
  /** Seconds the server may hold the answer until a terminal status (`?wait=`). */
  wait?: number;
}

export interface RetryParams {
  /** Default `from_failed` (reuses stored outputs). */
  mode?: 'from_failed' | 'from_start' | 'from_node';
  /** With `from_node`: where to start. */
  node_id?: string;
  /** Run on the `original` revision (default) or the `latest`. */
  revision?: 'original' | 'latest';
}

export interface LogEntry {
  timestamp: string;
  level: string;
  node_id: string | null;
  message: string;
  [key: string]: unknown;
}

export interface LogPage {
  logs: LogEntry[];
  /** Cursor and paging data; pass `after` back to tail. */
  pagination: Record<string, JsonValue>;
}

export interface LogParams {
  /** Cursor: only logs after this one. */
  after?: string | number;
  limit?: number;
}

/** The WebSocket `execution_update` event's data (the seed's shape). */
export interface ExecutionUpdate {
  execution_id: string;
  workflow_id: string;
  status: ExecutionStatus;
  progress: number;
  current_node: string | null;
  [key: string]: unknown;
}
