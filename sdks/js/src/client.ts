/** `AxonOS`: the client, its resources, and `AxonOS.login()`. */

import { APIClient, type ClientOptions, type RequestOptions } from './core.js';
import { ApiKeys } from './resources/apiKeys.js';
import { Auth } from './resources/auth.js';
import { Executions } from './resources/executions.js';
import { Nodes } from './resources/nodes.js';
import { Workflows } from './resources/workflows.js';
import type { Health } from './types.js';

/**
 * The Axon API client.
 *
 * ```ts
 * const client = new AxonOS({ apiKey: 'axon_...', baseUrl: 'http://127.0.0.1:8888/axon/v1' });
 * const { workflows } = await client.workflows.list();
 * const execution = await client.workflows.execute('wf_123');
 * ```
 *
 * Credentials: `apiKey` (X-API-Key), or `token` (+ `refreshToken`) for bearer auth, or
 * `AxonOS.login(email, password, { baseUrl })`. Without options the environment is read:
 * AXON_URL, AXON_API_KEY, AXON_TOKEN.
 */
export class AxonOS extends APIClient {
  readonly auth: Auth;
  readonly workflows: Workflows;
  readonly nodes: Nodes;
  readonly executions: Executions;
  readonly apiKeys: ApiKeys;

  constructor(options: ClientOptions = {}) {
    super(options);
    this.auth = new Auth(this);
    this.workflows = new Workflows(this);
    this.nodes = new Nodes(this);
    this.executions = new Executions(this);
    this.apiKeys = new ApiKeys(this);
  }

  /** A client logged in with email and password; it refreshes its token by itself. */
  static async login(
    email: string,
    password: string,
    options: Omit<ClientOptions, 'apiKey' | 'token' | 'refreshToken'> & RequestOptions = {},
  ): Promise<AxonOS> {
    const { signal, headers, ...clientOptions } = options;
    const client = new AxonOS({ ...clientOptions, apiKey: null, token: null });
    await client.auth.login(email, password, { signal, headers });
    return client;
  }

  /** `GET /health`: `{status: "ok", version}`; needs no credentials. */
  health(options?: RequestOptions): Promise<Health> {
    return this.request<Health>({ method: 'GET', path: '/health', auth: false }, options);
  }
}
