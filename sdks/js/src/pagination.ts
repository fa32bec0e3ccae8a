/** Walking every page of a paged list, one item at a time. */

import type { Pagination } from './types.js';

/**
 * Yield the items of `fetchPage(first)`, `fetchPage(first + 1)`, ... until the last page.
 * Pages are fetched lazily: breaking out of `for await` stops the requests.
 */
export async function* paginate<P extends { pagination: Pagination }, T>(
  first: number,
  fetchPage: (page: number) => Promise<P>,
  items: (page: P) => T[],
): AsyncGenerator<T, void, undefined> {
  for (let page = first; ; page++) {
    const result = await fetchPage(page);
    const batch = items(result);
    yield* batch;
    if (batch.length === 0 || page >= result.pagination.total_pages) return;
  }
}
