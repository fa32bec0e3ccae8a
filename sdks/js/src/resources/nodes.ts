/** `/nodes`: the catalog of node types (built-in and your custom ones). */

import type { RequestOptions } from '../core.js';
import type { NodeListParams, NodeRegisterParams, NodeType } from '../types.js';
import { APIResource, seg } from './base.js';

export class Nodes extends APIResource {
  /** Node types visible to you (built-ins and your own), filtered by the params. */
  async list(params: NodeListParams = {}, options?: RequestOptions): Promise<NodeType[]> {
    const body = await this.client.request<{ nodes: NodeType[] }>(
      { method: 'GET', path: '/nodes', query: { ...params } },
      options,
    );
    return body.nodes;
  }

  /** One node type, at its latest version unless `version` is given. */
  get(id: string, params: { version?: string } = {}, options?: RequestOptions): Promise<NodeType> {
    return this.client.request<NodeType>(
      { method: 'GET', path: `/nodes/${seg(id)}`, query: { ...params } },
      options,
    );
  }

  /**
   * Register a custom node from Python source defining `run(inputs, config)`. A new
   * `version` of an existing id adds a version; the same version again is a ConflictError.
   */
  register(params: NodeRegisterParams, options?: RequestOptions): Promise<NodeType> {
    return this.client.request<NodeType>({ method: 'POST', path: '/nodes', body: params }, options);
  }

  /** Every version of a node type. */
  async versions(id: string, options?: RequestOptions): Promise<NodeType[]> {
    const body = await this.client.request<{ versions: NodeType[] }>(
      { method: 'GET', path: `/nodes/${seg(id)}/versions` },
      options,
    );
    return body.versions;
  }
}
