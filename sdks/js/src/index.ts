/**
 * @axonos/sdk: the TypeScript client of Axon, workflow automation inside Jupyter.
 *
 * ```ts
 * import { AxonOS } from '@axonos/sdk';
 * const client = new AxonOS({ apiKey, baseUrl });
 * await client.workflows.list();
 * await client.workflows.execute('wf_123');
 * ```
 */

export { AxonOS } from './client.js';
export { AxonOS as default } from './client.js';
export {
  APIClient,
  DEFAULT_BASE_URL,
  type ClientOptions,
  type RequestOptions,
  type WebSocketConstructor,
  type WebSocketLike,
} from './core.js';
export * from './errors.js';
export * from './types.js';
export { EventSocket, CLOSE_CODES, type ServerEvent, type ConnectOptions } from './realtime.js';
export type { WaitOptions, StreamOptions } from './resources/executions.js';
export { Auth } from './resources/auth.js';
export { Workflows } from './resources/workflows.js';
export { Nodes } from './resources/nodes.js';
export { Executions } from './resources/executions.js';
export { ApiKeys } from './resources/apiKeys.js';
