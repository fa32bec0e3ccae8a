/** `/executions`: list, get, stop, logs, retry; `wait()`, `tail()` and live `stream()`. */

import { sleep, type RequestOptions } from '../core.js';
import { APIUserAbortError, StreamError, WaitTimeoutError } from '../errors.js';
import { paginate } from '../pagination.js';
import { EventSocket } from '../realtime.js';
import {
  TERMINAL_STATUSES,
  type Execution,
  type ExecutionListParams,
  type ExecutionPage,
  type ExecutionSummary,
  type ExecutionUpdate,
  type LogEntry,
  type LogPage,
  type LogParams,
  type NodeUpdate,
  type RetryParams,
} from '../types.js';
import { APIResource, seg } from './base.js';

export interface WaitOptions {
  signal?: AbortSignal;
  /** Milliseconds to wait in all. Default 300000; `Infinity` waits as long as it takes. */
  timeout?: number;
  /** Longest pause between polls, in milliseconds (polls start fast). Default 2000. */
  pollInterval?: number;
}

export interface TailOptions extends WaitOptions {
  /** Cursor: start after this log id (default: from the first line). */
  after?: number;
  /** Keep reading until the execution ended (default true); false: what is there now. */
  follow?: boolean;
  /** Lines per request (1..1000). Default 100. */
  pageSize?: number;
}

export interface StreamOptions {
  signal?: AbortSignal;
  /** Milliseconds until the stream gives up with WaitTimeoutError. Default 300000. */
  timeout?: number;
  /**
   * Milliseconds between safety checks over HTTP, so a missed or dropped event can never
   * leave the stream hanging after the run ended. Default 5000.
   */
  pollInterval?: number;
  /** Also called with every `node_update` of this execution (a node changed state). */
  onNodeUpdate?: (update: NodeUpdate) => void;
}

const STATUS_RANK: Record<string, number> = { queued: 0, running: 1 };
const rank = (status: string) => STATUS_RANK[status] ?? 2;

/** An execution as an `execution_update` event (for the first and fallback states). */
function asUpdate(execution: ExecutionSummary): ExecutionUpdate {
  return {
    execution_id: execution.id,
    workflow_id: execution.workflow_id,
    status: execution.status,
    progress: execution.progress,
    current_node: execution.current_node,
  };
}

/** An AbortSignal for "the caller aborted or the deadline passed", and which it was. */
function deadlineSignal(timeout: number, signal?: AbortSignal) {
  const controller = new AbortController();
  let expired = false;
  const timer = Number.isFinite(timeout)
    ? setTimeout(() => {
        expired = true;
        controller.abort();
      }, timeout)
    : null;
  const onAbort = () => controller.abort(signal?.reason);
  if (signal?.aborted) controller.abort(signal.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => expired,
    dispose: () => {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}

export class Executions extends APIResource {
  /** One page of your runs (summaries, no per-node records), newest first. */
  list(params: ExecutionListParams = {}, options?: RequestOptions): Promise<ExecutionPage> {
    return this.client.request<ExecutionPage>(
      { method: 'GET', path: '/executions', query: { ...params } },
      options,
    );
  }

  /** Every run matching `params`, page after page. */
  iterate(
    params: ExecutionListParams = {},
    options?: RequestOptions,
  ): AsyncGenerator<ExecutionSummary, void, undefined> {
    return paginate(
      params.page ?? 1,
      (page) => this.list({ ...params, page }, options),
      (page) => page.executions,
    );
  }

  /** One run with its per-node records, output and error. */
  get(id: string, options?: RequestOptions): Promise<Execution> {
    return this.client.request<Execution>({ method: 'GET', path: `/executions/${seg(id)}` }, options);
  }

  /** Stop a queued or running run; a finished one throws ConflictError. */
  stop(id: string, options?: RequestOptions): Promise<Execution> {
    return this.client.request<Execution>(
      { method: 'POST', path: `/executions/${seg(id)}/stop` },
      options,
    );
  }

  /**
   * Run a finished execution again, as a new one linked by `retry_of`. Default: from the
   * failed nodes, on the revision that ran. ConflictError if it is still running, or if
   * it succeeded and the mode is `from_failed`.
   */
  retry(id: string, params: RetryParams = {}, options: RequestOptions = {}): Promise<Execution> {
    const { wait, ...body } = params;
    const timeout = options.timeout ?? (wait ? this.client.timeout + wait * 1000 : undefined);
    return this.client.request<Execution>(
      { method: 'POST', path: `/executions/${seg(id)}/retry`, query: { wait }, body },
      timeout === undefined ? options : { ...options, timeout },
    );
  }

  /** One page of log lines, oldest first; pass `pagination.next_after` back as `after`. */
  logs(id: string, params: LogParams = {}, options?: RequestOptions): Promise<LogPage> {
    return this.client.request<LogPage>(
      { method: 'GET', path: `/executions/${seg(id)}/logs`, query: { ...params } },
      options,
    );
  }

  /**
   * Every log line from `after` on; with `follow` (default) it keeps reading until the
   * execution ended and its last line was read, like `tail -f` that stops by itself.
   */
  async *tail(id: string, options: TailOptions = {}): AsyncGenerator<LogEntry, void, undefined> {
    const { follow = true, pageSize = 100 } = options;
    const timeout = options.timeout ?? 300_000;
    const maxInterval = options.pollInterval ?? 2_000;
    const deadline = deadlineSignal(timeout, options.signal);
    let cursor = options.after ?? 0;
    let interval = 100;
    let last: Execution | null = null;
    try {
      for (;;) {
        // Read the status before the logs: lines written before a terminal status are
        // then certain to be in the pages that follow.
        if (follow) last = await this.get(id, { signal: deadline.signal });
        for (;;) {
          const page = await this.logs(id, { after: cursor, limit: pageSize }, { signal: deadline.signal });
          yield* page.logs;
          cursor = page.pagination.next_after;
          if (!page.pagination.has_more) break;
        }
        if (!follow || (last && TERMINAL_STATUSES.has(last.status))) return;
        await sleep(interval, deadline.signal);
        interval = Math.min(maxInterval, interval * 1.5);
      }
    } catch (err) {
      if (deadline.timedOut()) throw new WaitTimeoutError(id, last?.status ?? null, timeout, last);
      throw err;
    } finally {
      deadline.dispose();
    }
  }

  /** Resolve with the run once it is `succeeded`, `failed` or `stopped` (polls over HTTP). */
  async wait(id: string, options: WaitOptions = {}): Promise<Execution> {
    const timeout = options.timeout ?? 300_000;
    const maxInterval = options.pollInterval ?? 2_000;
    const deadline = deadlineSignal(timeout, options.signal);
    let last: Execution | null = null;
    let interval = 100;
    try {
      for (;;) {
        last = await this.get(id, { signal: deadline.signal });
        if (TERMINAL_STATUSES.has(last.status)) return last;
        await sleep(interval, deadline.signal);
        interval = Math.min(maxInterval, interval * 1.5);
      }
    } catch (err) {
      if (deadline.timedOut()) throw new WaitTimeoutError(id, last?.status ?? null, timeout, last);
      throw err;
    } finally {
      deadline.dispose();
    }
  }

  /**
   * Live updates of one run over the WebSocket, ending after the terminal one:
   * `for await (const update of client.executions.stream(id)) console.log(update.progress)`.
   * The first update is the current state, so a run that already ended yields once.
   */
  async *stream(
    id: string,
    options: StreamOptions = {},
  ): AsyncGenerator<ExecutionUpdate, void, undefined> {
    const timeout = options.timeout ?? 300_000;
    const pollInterval = options.pollInterval ?? 5_000;
    const deadline = deadlineSignal(timeout, options.signal);
    let socket: EventSocket | null = null;
    let last: Execution | null = null;
    let lastStatus: string | null = null;
    let poller: ReturnType<typeof setInterval> | null = null;
    try {
      socket = await EventSocket.connect(this.client, { signal: deadline.signal });
      // The socket carries every event of ours from auth_ok on; subscribing narrows it to
      // this run (someone else's id: NotFoundError). Read second: an update in between is
      // queued, not lost, and a run that ended before we came shows in this first read.
      await socket.subscribe({ execution_id: id }, deadline.signal);
      last = await this.get(id, { signal: deadline.signal });
      lastStatus = last.status;
      yield asUpdate(last);
      if (TERMINAL_STATUSES.has(last.status)) return;

      // The safety check: a terminal state read over HTTP ends the stream too.
      let polled: Execution | null = null;
      const open = socket;
      poller = setInterval(() => {
        this.get(id, { signal: deadline.signal }).then(
          (execution) => {
            last = execution;
            if (TERMINAL_STATUSES.has(execution.status)) {
              polled = execution;
              open.close();
            }
          },
          () => undefined, // a failed check is tried again at the next tick
        );
      }, pollInterval);

      for (;;) {
        const event = await socket.next(deadline.signal);
        if (event === null) {
          const final: Execution = polled ?? (await this.get(id, { signal: deadline.signal }));
          if (!TERMINAL_STATUSES.has(final.status)) {
            throw new StreamError(`WebSocket closed before execution ${id} ended`);
          }
          yield asUpdate(final);
          return;
        }
        if (event.data?.execution_id !== id) continue;
        if (event.type === 'node_update') {
          options.onNodeUpdate?.(event.data as NodeUpdate);
          continue;
        }
        if (event.type !== 'execution_update') continue;
        const update = event.data as ExecutionUpdate;
        // Events queued before our first read may be older than it: never step back.
        if (lastStatus !== null && rank(update.status) < rank(lastStatus)) continue;
        lastStatus = update.status;
        yield update;
        if (TERMINAL_STATUSES.has(update.status)) return;
      }
    } catch (err) {
      if (deadline.timedOut()) throw new WaitTimeoutError(id, lastStatus, timeout, last);
      if (options.signal?.aborted && !(err instanceof APIUserAbortError)) {
        throw new APIUserAbortError(options.signal.reason);
      }
      throw err;
    } finally {
      if (poller) clearInterval(poller);
      socket?.close();
      deadline.dispose();
    }
  }
}
