/** `/api-keys`: create (the key is answered once), list, revoke. */

import type { RequestOptions } from '../core.js';
import type { ApiKey, ApiKeyCreateParams, ApiKeyCreated } from '../types.js';
import { APIResource, seg } from './base.js';

export class ApiKeys extends APIResource {
  /** Create a key; `key` in the answer is the only time the secret is shown. */
  create(params: ApiKeyCreateParams = {}, options?: RequestOptions): Promise<ApiKeyCreated> {
    return this.client.request<ApiKeyCreated>(
      { method: 'POST', path: '/api-keys', body: params },
      options,
    );
  }

  /** Your keys (never the secrets), revoked ones included with `revoked: true`. */
  async list(options?: RequestOptions): Promise<ApiKey[]> {
    const body = await this.client.request<{ api_keys: ApiKey[] }>(
      { method: 'GET', path: '/api-keys' },
      options,
    );
    return body.api_keys;
  }

  /** Revoke a key at once; later requests with it answer 401. */
  async revoke(id: string, options?: RequestOptions): Promise<void> {
    await this.client.request<void>({ method: 'DELETE', path: `/api-keys/${seg(id)}` }, options);
  }
}
