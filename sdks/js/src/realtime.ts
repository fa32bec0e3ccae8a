/**
 * The WebSocket side of the API: `/ws` under the base URL.
 *
 * Protocol (JSON text frames):
 * ```
 * -> {"type": "auth", "token": "<JWT or API key>"}            first message
 * <- {"type": "auth_ok", "data": {"user": {...}, "subscriptions": {...}}}
 * <- {"type": "execution_update" | "node_update" | "notification" | "system_health", "data": {...}}
 * -> {"type": "subscribe" | "unsubscribe", "execution_id" | "workflow_id": "..."}
 * <- {"type": "subscribed" | "unsubscribed", "data": {"subscriptions": {...}}}
 * <- {"type": "error", "data": {"code", "message", "details"}}
 * ```
 * Close codes: 4401 bad credentials, 4408 no auth in time, 4400 bad first message,
 * 1013 slow consumer, 1001 server shutdown.
 *
 * `EventSocket` turns a WebSocket's callbacks into awaitable messages with a bounded
 * buffer; `executions.stream()` builds on it.
 */

import type { APIClient, WebSocketLike } from './core.js';
import { APIUserAbortError, StreamError, errorFromEnvelope, type ErrorEnvelope } from './errors.js';
import type { UserRef } from './types.js';

/** One server message: `{type, data}` (`execution_update`, `notification`, ...). */
export interface ServerEvent {
  type: string;
  data?: any;
  [key: string]: unknown;
}

export interface Subscriptions {
  workflow_ids: string[];
  execution_ids: string[];
}

/** Close codes with a meaning for the client. */
export const CLOSE_CODES: Record<number, string> = {
  1001: 'server going away',
  1008: 'policy violation',
  1009: 'message too big',
  1013: 'slow consumer, try again later',
  4400: 'bad request',
  4401: 'invalid credentials',
  4403: 'forbidden',
  4408: 'authentication timeout',
};

/** Most messages kept unread; past this the socket closes rather than grow without end. */
const MAX_BUFFERED = 10_000;

export interface ConnectOptions {
  signal?: AbortSignal;
  /** Milliseconds to wait for the socket to open and accept the credential. Default: the client's timeout. */
  timeout?: number;
}

type Waiter = { resolve: (e: ServerEvent | null) => void; reject: (err: unknown) => void };

export class EventSocket implements AsyncIterable<ServerEvent> {
  #ws: WebSocketLike;
  #buffer: ServerEvent[] = [];
  #waiters: Waiter[] = [];
  #closed: { error: unknown } | null = null;
  /** The user the server accepted (from `auth_ok`). */
  user: UserRef | null = null;
  /** What the server delivers: empty lists mean everything you own. */
  subscriptions: Subscriptions = { workflow_ids: [], execution_ids: [] };

  private constructor(ws: WebSocketLike) {
    this.#ws = ws;
    ws.addEventListener('message', (event: { data: unknown }) => this.#onMessage(event.data));
    ws.addEventListener('close', (event: { code: number; reason?: string }) =>
      this.#finish(closeError(event.code, event.reason)),
    );
    ws.addEventListener('error', () => {
      // The close event that follows carries the code and ends the socket.
    });
  }

  /**
   * Open the socket and authenticate with the client's bearer token (refreshed first
   * when due) or API key; resolves once the server answered `auth_ok`.
   */
  static async connect(client: APIClient, options: ConnectOptions = {}): Promise<EventSocket> {
    const { signal } = options;
    if (signal?.aborted) throw new APIUserAbortError(signal.reason);
    const credential = await client.credential(signal);
    if (!credential) {
      throw new StreamError('No credential for the WebSocket: pass apiKey or token, or log in');
    }
    const WS = await client.webSocketClass();
    const ws = new WS(client.webSocketUrl);
    const socket = new EventSocket(ws);
    const timeout = options.timeout ?? client.timeout;
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new StreamError(`WebSocket handshake took over ${timeout} ms`)),
      timeout,
    );
    const onAbort = () => controller.abort(new APIUserAbortError(signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await new Promise<void>((resolve, reject) => {
        controller.signal.addEventListener('abort', () => reject(controller.signal.reason), {
          once: true,
        });
        ws.addEventListener('open', () => resolve());
        ws.addEventListener('close', (event: { code: number; reason?: string }) =>
          reject(closeError(event.code, event.reason) ?? new StreamError('WebSocket closed')),
        );
      });
      socket.send({ type: 'auth', token: credential });
      const first = await socket.next(controller.signal);
      if (first === null) throw new StreamError('WebSocket closed before authentication');
      if (first.type === 'error') throw errorFromEnvelope(first.data as ErrorEnvelope['error']);
      if (first.type !== 'auth_ok') {
        throw new StreamError(`Expected auth_ok from the server, got ${first.type}`);
      }
      socket.user = first.data?.user ?? null;
      if (first.data?.subscriptions) socket.subscriptions = first.data.subscriptions;
      return socket;
    } catch (err) {
      socket.close();
      if (err instanceof APIUserAbortError || err instanceof StreamError) throw err;
      if (controller.signal.aborted) throw controller.signal.reason;
      throw err;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  send(message: Record<string, unknown>): void {
    if (this.#closed) throw new StreamError('WebSocket is closed');
    this.#ws.send(JSON.stringify(message));
  }

  /**
   * Narrow delivery to one execution or workflow (more calls add more). Resolves once the
   * server confirmed; someone else's or an unknown id rejects with NotFoundError.
   * Events that arrive meanwhile stay queued, in order.
   */
  subscribe(target: { execution_id: string } | { workflow_id: string }, signal?: AbortSignal) {
    return this.#control('subscribe', target, signal);
  }

  /** Widen delivery again (the reverse of `subscribe`). */
  unsubscribe(target: { execution_id: string } | { workflow_id: string }, signal?: AbortSignal) {
    return this.#control('unsubscribe', target, signal);
  }

  async #control(
    kind: 'subscribe' | 'unsubscribe',
    target: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<Subscriptions> {
    this.send({ type: kind, ...target });
    const held: ServerEvent[] = [];
    try {
      for (;;) {
        const event = await this.next(signal);
        if (event === null) throw new StreamError(`WebSocket closed during ${kind}`);
        if (event.type === `${kind}d`) {
          this.subscriptions = event.data?.subscriptions ?? this.subscriptions;
          return this.subscriptions;
        }
        if (event.type === 'error') throw errorFromEnvelope(event.data as ErrorEnvelope['error']);
        held.push(event);
      }
    } finally {
      this.#buffer.unshift(...held);
    }
  }

  /** The next message; null once the socket closed normally; rejects on an error close. */
  next(signal?: AbortSignal): Promise<ServerEvent | null> {
    const queued = this.#buffer.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#closed) {
      return this.#closed.error ? Promise.reject(this.#closed.error) : Promise.resolve(null);
    }
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(abortError(signal!));
      };
      const waiter: Waiter = {
        resolve: (e) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(e);
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Close the socket (code 1000); pending `next()` calls resolve with null. */
  close(code = 1000): void {
    try {
      this.#ws.close(code);
    } catch {
      // Closing an already closing socket is not an error for us.
    }
    this.#finish(null);
  }

  get closed(): boolean {
    return this.#closed !== null;
  }

  /** Every message until the socket closes; leaving the loop closes the socket. */
  async *[Symbol.asyncIterator](): AsyncGenerator<ServerEvent> {
    try {
      for (;;) {
        const event = await this.next();
        if (event === null) return;
        yield event;
      }
    } finally {
      this.close();
    }
  }

  #onMessage(raw: unknown): void {
    let event: ServerEvent;
    try {
      event = JSON.parse(typeof raw === 'string' ? raw : String(raw)) as ServerEvent;
    } catch {
      return; // not JSON: not part of the protocol
    }
    if (typeof event !== 'object' || event === null || typeof event.type !== 'string') return;
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter.resolve(event);
      return;
    }
    if (this.#buffer.length >= MAX_BUFFERED) {
      this.#finish(new StreamError('Too many unread WebSocket messages; closing'));
      this.#ws.close(1008);
      return;
    }
    this.#buffer.push(event);
  }

  #finish(error: unknown): void {
    if (this.#closed) return;
    this.#closed = { error };
    for (const waiter of this.#waiters.splice(0)) {
      if (error) waiter.reject(error);
      else waiter.resolve(null);
    }
  }
}

/** Our own reasons (a StreamError deadline) pass through; a caller's abort becomes APIUserAbortError. */
function abortError(signal: AbortSignal): unknown {
  const reason = signal.reason;
  if (reason instanceof StreamError || reason instanceof APIUserAbortError) return reason;
  return new APIUserAbortError(reason);
}

function closeError(code: number, reason?: string): StreamError | null {
  if (code === 1000) return null;
  const meaning = CLOSE_CODES[code] ?? 'closed';
  return new StreamError(
    `WebSocket closed: ${meaning} (${code})${reason ? `: ${reason}` : ''}`,
    code,
  );
}
