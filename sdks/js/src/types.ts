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

export type PortType = 'any' | 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array';

export interface Port {
  name: string;
  type: PortType | string;
  required: boolean;
  description: string;
}

/** A port when registering: only `name` is needed (type `any`, optional by default). */
export interface PortSpec {
  name: string;
  type?: PortType;
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
  /** Custom nodes only: SHA-256 of the code, and when this version was registered. */
  code_hash?: string;
  created_at?: string;
}

export interface NodeList {
  nodes: NodeType[];
}

export interface NodeListParams {
  category?: string;
  /** Matches id, name and description. */
  search?: string;
  version?: string;
  /** Only built-ins (true) or only custom nodes (false). */
  builtin?: boolean;
}

/** `POST /nodes`: a custom node from Python source defining `run(inputs, config)`. */
export interface NodeRegisterParams {
  /** Starts with a letter; letters, digits, `_`, `.`, `-`. */
  id: string;
  name: string;
  description?: string;
  /** Default `custom`. */
  category?: string;
  /** A version such as `1.0.0`. */
  version: string;
  /** Python source defining `run(inputs, config)` (sync or async). */
  code: string;
  /** Default: one optional input `input`. */
  inputs?: PortSpec[];
  /** Default: one output `output`. */
  outputs?: PortSpec[];
  /** JSON Schema (type object) that a node's `config` must satisfy. */
  config_schema?: JsonObject;
}

export interface NodeVersionList {
  versions: NodeType[];
}

// ------------------------------------------------------------------ executions

export type ExecutionStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'stopped';
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'stopped']);

export type NodeStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'stopped';

/** One node's record within one execution. */
export interface ExecutionNode {
  node_id: string;
  /** Node type id. */
  type: string;
  version: string | null;
  status: NodeStatus;
  attempts: number;
  /** A succeeded node whose outputs a retry reused (it did not run again). */
  reused: boolean;
  started_at: string | null;
  finished_at: string | null;
  duration: number | null;
  outputs: JsonObject | null;
  error: JsonObject | null;
}

/** An execution in lists: everything but the per-node records. */
export interface ExecutionSummary {
  id: string;
  workflow_id: string;
  /** The workflow revision that ran. */
  workflow_version: number;
  status: ExecutionStatus;
  /** 0..1 */
  progress: number;
  current_node: string | null;
  input: JsonObject;
  /** Outputs of the sink nodes once finished. */
  output: JsonObject | null;
  error: JsonObject | null;
  /** Node id -> `type@version` that ran (plus a code hash for custom code). */
  node_versions: Record<string, string>;
  retry_of: string | null;
  retry_mode: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** Seconds, once finished. */
  duration: number | null;
}

export interface Execution extends ExecutionSummary {
  nodes: ExecutionNode[];
}

export interface ExecutionPage {
  executions: ExecutionSummary[];
  pagination: Pagination;
}

export interface ExecutionListParams extends PageParams {
  workflow_id?: string;
  status?: ExecutionStatus;
}

export interface ExecuteParams {
  input?: JsonObject;
  /** Seconds (0..120) the server may hold the answer until a terminal status (`?wait=`). */
  wait?: number;
}

export interface RetryParams {
  /**
   * `from_failed` (default) reuses the outputs of the nodes that succeeded, `from_start`
   * reruns all, `from_node` reruns from `node_id` on.
   */
  mode?: 'from_failed' | 'from_start' | 'from_node';
  /** With `from_node`: where to start. */
  node_id?: string;
  /** Run on the `original` revision (default) or the `latest`. */
  workflow_version?: 'original' | 'latest';
  /** Seconds the server may hold the answer until a terminal status. */
  wait?: number;
}

export interface LogEntry {
  /** The cursor of this line (pass it as `after`). */
  id: number;
  timestamp: string;
  level: string;
  node_id: string | null;
  message: string;
}

export interface LogPagination {
  after: number;
  limit: number;
  /** Pass back as `after` for the next lines. */
  next_after: number;
  has_more: boolean;
  total: number;
}

export interface LogPage {
  logs: LogEntry[];
  pagination: LogPagination;
}

export interface LogParams {
  /** Cursor: only lines after this one (0: from the start). */
  after?: number;
  /** 1..1000, default 100. */
  limit?: number;
}

/** The WebSocket `node_update` event's data. */
export interface NodeUpdate {
  execution_id: string;
  workflow_id: string;
  node_id: string;
  /** Node type id. */
  type: string;
  status: NodeStatus;
  attempts: number;
  started_at: string | null;
  finished_at: string | null;
  error: JsonObject | null;
}

/** The WebSocket `execution_update` event's data (the seed's shape). */
export interface ExecutionUpdate {
  execution_id: string;
  workflow_id: string;
  status: ExecutionStatus;
  progress: number;
  current_node: string | null;
}
