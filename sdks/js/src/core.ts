/**
 * The transport: one `request()` that every resource method goes through.
 *
 * It owns credentials (API key or bearer token with automatic refresh), timeouts,
 * AbortSignal handling, bounded retries with backoff, and turning error answers into
 * the typed errors of errors.ts. Resources hold no HTTP logic of their own.
 */

import {
  APIConnectionError,
  APIError,
  APITimeoutError,
  APIUserAbortError,
  AuthenticationError,
  RateLimitError,
  errorFromResponse,
} from './errors.js';
import type { RateLimitInfo, TokenResponse } from './types.js';

/** Per-call options, accepted as the last argument of every method. */
export interface RequestOptions {
  /** Cancels the call (and any retry wait); the call rejects with APIUserAbortError. */
  signal?: AbortSignal;
  /** Milliseconds for one attempt, body included. Default: the client's `timeout`. */
  timeout?: number;
  /** Retries on 429/5xx/connection errors. Default: the client's `maxRetries`. */
  maxRetries?: number;
  /** Longest `Retry-After` (seconds) worth waiting for. Default: the client's `maxRetryDelay`. */
  maxRetryDelay?: number;
  /** Extra headers for this call. */
  headers?: Record<string, string>;
}

/** What a WebSocket constructor must offer (the WHATWG API; `ws` implements it). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: any) => void): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ClientOptions {
  /** API key sent as `X-API-Key` [env AXON_API_KEY]. */
  apiKey?: string | null;
  /** Bearer access token (JWT) [env AXON_TOKEN]; used in preference to the API key. */
  token?: string | null;
  /** Refresh token: with it, an expired or rejected access token is renewed once, silently. */
  refreshToken?: string | null;
  /**
   * The API root, e.g. `http://127.0.0.1:8888/axon/v1` [env AXON_URL].
   * Default: `http://127.0.0.1:8888/axon/v1`.
   */
  baseUrl?: string;
  /** Milliseconds per attempt. Default 60000. */
  timeout?: number;
  /** Retries for idempotent calls on 5xx and connection errors, and for any call on 429. Default 2. */
  maxRetries?: number;
  /** Longest `Retry-After` (seconds) worth waiting for; a longer one throws at once. Default 60. */
  maxRetryDelay?: number;
  /** Headers sent with every request. */
  defaultHeaders?: Record<string, string>;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof fetch;
  /** A WebSocket constructor (default: the global one, else the `ws` package). */
  WebSocket?: WebSocketConstructor;
  /**
   * Called with every new token pair (login, refresh). Refresh tokens rotate and an old
   * one is refused (and ends the login), so persist the new pair here if you keep it.
   */
  onTokens?: (tokens: TokenResponse) => void;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';
export type QueryValue = string | number | boolean | null | undefined;

export interface FinalRequest {
  method: HttpMethod;
  path: string;
  query?: Record<string, QueryValue> | undefined;
  body?: unknown;
  /** Attach credentials (default true). Login and refresh go without. */
  auth?: boolean;
  headers?: Record<string, string>;
}

export const DEFAULT_BASE_URL = 'http://127.0.0.1:8888/axon/v1';
const IDEMPOTENT = new Set<HttpMethod>(['GET', 'PUT', 'DELETE']);
/**
 * Refresh this long before the access token expires (a tenth of its life for short-lived
 * tokens), so a call rarely spends a round trip on a 401.
 */
const REFRESH_MARGIN_MS = 30_000;

function env(name: string): string | undefined {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  const value = proc?.env?.[name];
  return value && value.trim() ? value.trim() : undefined;
}

/** Sleep that an AbortSignal cuts short (rejecting with APIUserAbortError). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new APIUserAbortError(signal.reason));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new APIUserAbortError(signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `promise`, unless `signal` fires first (then APIUserAbortError; the work goes on). */
export function untilAborted<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new APIUserAbortError(signal.reason));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new APIUserAbortError(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** Exponential backoff with jitter: about 0.5 s, 1 s, 2 s ... capped at 8 s. */
export function backoffDelay(attempt: number): number {
  const base = Math.min(8_000, 500 * 2 ** attempt);
  return base * (0.75 + Math.random() * 0.5);
}

function parseRateLimit(headers: Headers): RateLimitInfo | null {
  const limit = headers.get('x-ratelimit-limit');
  const remaining = headers.get('x-ratelimit-remaining');
  const reset = headers.get('x-ratelimit-reset');
  if (limit === null || remaining === null) return null;
  return { limit: Number(limit), remaining: Number(remaining), reset: Number(reset ?? 0) };
}

export class APIClient {
  readonly baseUrl: string;
  readonly timeout: number;
  readonly maxRetries: number;
  readonly maxRetryDelay: number;
  protected readonly defaultHeaders: Record<string, string>;
  protected readonly fetchImpl: typeof fetch;
  protected readonly webSocketImpl: WebSocketConstructor | undefined;
  protected readonly onTokens: ((tokens: TokenResponse) => void) | undefined;

  #apiKey: string | null;
  #token: string | null;
  #refreshToken: string | null;
  #refreshAt: number | null = null;
  #refreshing: Promise<TokenResponse> | null = null;
  #rateLimit: RateLimitInfo | null = null;

  constructor(options: ClientOptions = {}) {
    const baseUrl = options.baseUrl ?? env('AXON_URL') ?? DEFAULT_BASE_URL;
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.#apiKey = options.apiKey ?? env('AXON_API_KEY') ?? null;
    this.#token = options.token ?? env('AXON_TOKEN') ?? null;
    this.#refreshToken = options.refreshToken ?? null;
    this.timeout = options.timeout ?? 60_000;
    this.maxRetries = options.maxRetries ?? 2;
    this.maxRetryDelay = options.maxRetryDelay ?? 60;
    this.defaultHeaders = { ...(options.defaultHeaders ?? {}) };
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') {
      throw new TypeError('No fetch available: use Node 20+ or pass `fetch` in the client options');
    }
    this.fetchImpl = fetchImpl.bind(globalThis);
    this.webSocketImpl = options.WebSocket;
    this.onTokens = options.onTokens;
  }

  // ---------------------------------------------------------------- credentials

  /** The bearer token in use, if any. */
  get token(): string | null {
    return this.#token;
  }

  get refreshToken(): string | null {
    return this.#refreshToken;
  }

  get apiKey(): string | null {
    return this.#apiKey;
  }

  /** `X-RateLimit-*` of the last answer that carried them. */
  get rateLimit(): RateLimitInfo | null {
    return this.#rateLimit;
  }

  /** Adopt a token pair (login, refresh): later calls use the bearer token. */
  setTokens(tokens: TokenResponse): void {
    this.#token = tokens.token;
    this.#refreshToken = tokens.refresh_token ?? null;
    const lifetime = typeof tokens.expires_in === 'number' ? tokens.expires_in * 1000 : null;
    this.#refreshAt =
      lifetime === null ? null : Date.now() + lifetime - Math.min(REFRESH_MARGIN_MS, lifetime / 10);
    this.onTokens?.(tokens);
  }

  /** Forget the bearer token and refresh token (the API key, if any, stays). */
  clearTokens(): void {
    this.#token = null;
    this.#refreshToken = null;
    this.#refreshAt = null;
  }

  protected authHeaders(): Record<string, string> {
    if (this.#token) return { Authorization: `Bearer ${this.#token}` };
    if (this.#apiKey) return { 'X-API-Key': this.#apiKey };
    return {};
  }

  /** The credential for the WebSocket `auth` message, refreshed first when due. */
  async credential(signal?: AbortSignal): Promise<string | null> {
    await this.refreshIfDue(signal);
    return this.#token ?? this.#apiKey;
  }

  /**
   * Renew the access token with the client's refresh token, once however many calls ask
   * at the same moment: a second use of one refresh token would end the whole login.
   * The shared refresh ignores any one caller's abort; `signal` only stops this wait.
   */
  async refreshTokens(options: Pick<RequestOptions, 'signal' | 'headers'> = {}): Promise<TokenResponse> {
    if (!this.#refreshToken) {
      throw new TypeError('No refresh token: log in first (client.auth.login or AxonOS.login)');
    }
    this.#refreshing ??= (async () => {
      try {
        const tokens = await this.request<TokenResponse>(
          {
            method: 'POST',
            path: '/auth/refresh',
            body: { refresh_token: this.#refreshToken },
            auth: false,
          },
          { headers: options.headers },
        );
        this.setTokens(tokens);
        return tokens;
      } catch (err) {
        if (err instanceof AuthenticationError) this.clearTokens();
        throw err;
      } finally {
        this.#refreshing = null;
      }
    })();
    return untilAborted(this.#refreshing, options.signal);
  }

  protected async refreshIfDue(signal?: AbortSignal): Promise<void> {
    if (this.#refreshToken && this.#refreshAt !== null && Date.now() >= this.#refreshAt) {
      await this.refreshTokens({ signal });
    }
  }

  // ---------------------------------------------------------------- requests

  buildUrl(path: string, query?: Record<string, QueryValue>): string {
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
    return url.toString();
  }

  /** Send one API call with retries, refresh and typed errors; resolve with the JSON body. */
  async request<T>(req: FinalRequest, options: RequestOptions = {}): Promise<T> {
    const useAuth = req.auth ?? true;
    const maxRetries = Math.max(0, options.maxRetries ?? this.maxRetries);
    let refreshed = false;
    if (useAuth) await this.refreshIfDue(options.signal);

    for (let attempt = 0; ; attempt++) {
      const sentBearer = useAuth && this.#token !== null;
      let response: Response;
      let body: unknown;
      try {
        ({ response, body } = await this.send(req, options, useAuth));
      } catch (err) {
        // Connection failures and timeouts: the request may or may not have been
        // processed, so only idempotent calls are repeated.
        if (
          err instanceof APIConnectionError &&
          IDEMPOTENT.has(req.method) &&
          attempt < maxRetries
        ) {
          await sleep(backoffDelay(attempt), options.signal);
          continue;
        }
        throw err;
      }
      const rate = parseRateLimit(response.headers);
      if (rate) this.#rateLimit = rate;
      if (response.ok) return body as T;

      const error = errorFromResponse(response.status, body, response.headers);
      if (
        error instanceof AuthenticationError &&
        sentBearer &&
        this.#refreshToken &&
        !refreshed
      ) {
        refreshed = true;
        try {
          await this.refreshTokens({ signal: options.signal });
        } catch (refreshError) {
          // A refused refresh token: the original 401 is the answer to this call.
          // Anything else (429, network) is the reason it could not be renewed.
          if (refreshError instanceof AuthenticationError) throw error;
          throw refreshError;
        }
        attempt--; // a replay after refresh is not a retry
        continue;
      }
      const delay = this.retryDelay(
        error,
        req.method,
        attempt,
        maxRetries,
        options.maxRetryDelay ?? this.maxRetryDelay,
      );
      if (delay === null) throw error;
      await sleep(delay, options.signal);
    }
  }

  /**
   * How long to wait before retrying `error`, or null to give up. 429 means the server
   * refused before doing anything, so every method may retry it; 5xx only idempotent ones.
   */
  protected retryDelay(
    error: APIError,
    method: HttpMethod,
    attempt: number,
    maxRetries: number,
    maxRetryDelay: number,
  ): number | null {
    if (attempt >= maxRetries) return null;
    if (error instanceof RateLimitError) {
      if (error.retryAfter === null) return backoffDelay(attempt);
      if (error.retryAfter > maxRetryDelay) return null;
      return error.retryAfter * 1000;
    }
    const retriable5xx = error.status === 500 || error.status === 502 || error.status === 503 || error.status === 504;
    if (retriable5xx && IDEMPOTENT.has(method)) {
      const after = error.headers.get('retry-after');
      const seconds = after !== null ? Number(after) : NaN;
      return Number.isFinite(seconds) && seconds <= maxRetryDelay
        ? seconds * 1000
        : backoffDelay(attempt);
    }
    return null;
  }

  /** One attempt: fetch with a timeout and the caller's signal; body read included. */
  protected async send(
    req: FinalRequest,
    options: RequestOptions,
    useAuth: boolean,
  ): Promise<{ response: Response; body: unknown }> {
    const userSignal = options.signal;
    if (userSignal?.aborted) throw new APIUserAbortError(userSignal.reason);
    const timeout = options.timeout ?? this.timeout;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeout);
    const onAbort = () => controller.abort(userSignal?.reason);
    userSignal?.addEventListener('abort', onAbort, { once: true });

    const headers: Record<string, string> = {
      Accept: 'application/json',
      ...this.defaultHeaders,
      ...(useAuth ? this.authHeaders() : {}),
      ...(req.headers ?? {}),
      ...(options.headers ?? {}),
    };
    let payload: string | undefined;
    if (req.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(req.body);
    }
    try {
      const response = await this.fetchImpl(this.buildUrl(req.path, req.query), {
        method: req.method,
        headers,
        body: payload ?? null,
        signal: controller.signal,
      });
      const text = await response.text();
      return { response, body: parseBody(text, response.headers.get('content-type')) };
    } catch (err) {
      if (userSignal?.aborted) throw new APIUserAbortError(userSignal.reason);
      if (timedOut) throw new APITimeoutError(timeout);
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const detail = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new APIConnectionError(`Connection to ${this.baseUrl} failed: ${detail}`, {
        cause: err,
      });
    } finally {
      clearTimeout(timer);
      userSignal?.removeEventListener('abort', onAbort);
    }
  }

  // ---------------------------------------------------------------- WebSocket

  /** The WebSocket URL of this API (`/ws` under the base URL, ws:// or wss://). */
  get webSocketUrl(): string {
    const url = new URL(this.baseUrl + '/ws');
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return url.toString();
  }

  /** The global WebSocket where there is one (browsers, Node 22+), else `ws`. */
  async webSocketClass(): Promise<WebSocketConstructor> {
    if (this.webSocketImpl) return this.webSocketImpl;
    const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (global) return global;
    const mod = await import('ws');
    return mod.default as unknown as WebSocketConstructor;
  }
}

function parseBody(text: string, contentType: string | null): unknown {
  if (!text) return undefined;
  if (contentType?.includes('json') || /^[[{]/.test(text.trimStart())) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}
