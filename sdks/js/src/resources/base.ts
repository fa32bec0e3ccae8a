/** What every resource shares: the client it sends through, and id-safe paths. */

import type { APIClient } from '../core.js';

export abstract class APIResource {
  protected readonly client: APIClient;

  constructor(client: APIClient) {
    this.client = client;
  }
}

/** An id as one path segment: nothing in it can reach another route. */
export function seg(id: string | number): string {
  const text = String(id);
  if (!text) throw new TypeError('An id is required');
  return encodeURIComponent(text);
}
