/**
 * Every error the SDK throws, in one tree.
 *
 * ```
 * AxonError                       anything thrown by this SDK
 * ├── APIError                    the server answered with an error envelope
 * │   ├── ValidationError           400 VALIDATION_ERROR
 * │   ├── AuthenticationError       401 UNAUTHORIZED
 * │   ├── PermissionDeniedError     403 FORBIDDEN
 * │   ├── NotFoundError             404 NOT_FOUND
 * │   ├── ConflictError             409 CONFLICT
 * │   │   └── PreconditionFailedError   412 PRECONDITION_FAILED (a stale If-Match)
 * │   ├── PayloadTooLargeError      413 PAYLOAD_TOO_LARGE
 * │   ├── RateLimitError            429 RATE_LIMITED (retryAfter, seconds)
 * │   └── InternalServerError       500 INTERNAL_ERROR and other 5xx
 * │       └── ServiceUnavailableError   503 UNAVAILABLE
 * ├── APIConnectionError          no answer (refused, reset, DNS)
 * │   └── APITimeoutError           no answer within the timeout
 * ├── APIUserAbortError           the caller's AbortSignal fired
 * ├── WaitTimeoutError            wait()/stream() gave up before a terminal status
 * └── StreamError                 the WebSocket closed or refused us
 * ```
 *
 * `errorFromResponse()` is the one place that maps an HTTP answer to a class: by the
 * envelope's `code` first (the contract), by HTTP status when the body is not ours.
 */

import type { Execution } from './types.js';

/** The envelope every Axon error response carries. */
export interface ErrorEnvelope {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/** Base of everything this SDK throws, so one `instanceof` catches them all. */
export class AxonError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The server answered with an error status; fields come from the envelope. */
export class APIError extends AxonError {
  /** HTTP status code of the answer. */
  readonly status: number;
  /** Envelope code, e.g. `VALIDATION_ERROR`; stable across versions, match on this. */
  readonly code: string;
  /** Envelope details, e.g. `{field, issue}` for validation errors. */
  readonly details: Record<string, unknown>;
  /** `X-Request-Id` of the answer: quote it when reporting a server problem. */
  readonly requestId: string | null;
  /** Response headers (rate-limit headers included). */
  readonly headers: Headers;

  constructor(
    status: number,
    code: string,
    message: string,
    details: Record<string, unknown>,
    headers: Headers,
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.headers = headers;
    this.requestId = headers.get('x-request-id');
  }
}

export class ValidationError extends APIError {}
export class AuthenticationError extends APIError {}
export class PermissionDeniedError extends APIError {}
export class NotFoundError extends APIError {}
export class ConflictError extends APIError {}
/** A stale `If-Match`: a conflict too, so `catch (e) { if (e instanceof ConflictError) }` covers both. */
export class PreconditionFailedError extends ConflictError {}
export class PayloadTooLargeError extends APIError {}
export class InternalServerError extends APIError {}
/** The server is up but cannot serve now (database locked or full); `details.reason` says why. */
export class ServiceUnavailableError extends InternalServerError {}

export class RateLimitError extends APIError {
  /** Seconds to wait before trying again (from `Retry-After`), or null if absent. */
  readonly retryAfter: number | null;

  constructor(
    status: number,
    code: string,
    message: string,
    details: Record<string, unknown>,
    headers: Headers,
  ) {
    super(status, code, message, details, headers);
    this.retryAfter = parseRetryAfter(headers.get('retry-after'));
  }
}

/** The request never got an answer. */
export class APIConnectionError extends AxonError {}

/** No answer within the request timeout (client option `timeout`, per-call `timeout`). */
export class APITimeoutError extends APIConnectionError {
  constructor(timeoutMs: number) {
    super(`Request timed out after ${timeoutMs} ms`);
  }
}

/** The caller's AbortSignal fired; `cause` is the signal's reason. */
export class APIUserAbortError extends AxonError {
  constructor(reason?: unknown) {
    super('Request was aborted', { cause: reason });
  }
}

/** `executions.wait()` or `stream()` reached its own deadline before a terminal status. */
export class WaitTimeoutError extends AxonError {
  constructor(
    readonly executionId: string,
    /** The last status seen, or null if none was read. */
    readonly lastStatus: string | null,
    timeoutMs: number,
    /** The last state read over HTTP, when there was one. */
    readonly execution: Execution | null = null,
  ) {
    super(
      `Execution ${executionId} did not finish within ${timeoutMs} ms (last status: ${lastStatus ?? 'unknown'})`,
    );
  }
}

/** The WebSocket refused us (bad credentials: closeCode 4401) or closed too early. */
export class StreamError extends AxonError {
  constructor(
    message: string,
    readonly closeCode: number | null = null,
  ) {
    super(message);
  }
}

type APIErrorClass = new (
  status: number,
  code: string,
  message: string,
  details: Record<string, unknown>,
  headers: Headers,
) => APIError;

const BY_CODE: Record<string, APIErrorClass> = {
  VALIDATION_ERROR: ValidationError,
  UNAUTHORIZED: AuthenticationError,
  FORBIDDEN: PermissionDeniedError,
  NOT_FOUND: NotFoundError,
  CONFLICT: ConflictError,
  PRECONDITION_FAILED: PreconditionFailedError,
  PAYLOAD_TOO_LARGE: PayloadTooLargeError,
  RATE_LIMITED: RateLimitError,
  INTERNAL_ERROR: InternalServerError,
  UNAVAILABLE: ServiceUnavailableError,
};

const BY_STATUS: Record<number, APIErrorClass> = {
  400: ValidationError,
  401: AuthenticationError,
  403: PermissionDeniedError,
  404: NotFoundError,
  409: ConflictError,
  412: PreconditionFailedError,
  413: PayloadTooLargeError,
  429: RateLimitError,
  503: ServiceUnavailableError,
};

const DEFAULT_CODES: Record<number, string> = {
  400: 'VALIDATION_ERROR',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  412: 'PRECONDITION_FAILED',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'RATE_LIMITED',
  503: 'UNAVAILABLE',
};

function isEnvelope(body: unknown): body is ErrorEnvelope {
  if (typeof body !== 'object' || body === null) return false;
  const err = (body as { error?: unknown }).error;
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { code?: unknown }).code === 'string' &&
    typeof (err as { message?: unknown }).message === 'string'
  );
}

/** The typed error for an error answer: by envelope code, else by status. */
export function errorFromResponse(status: number, body: unknown, headers: Headers): APIError {
  if (isEnvelope(body)) {
    const { code, message, details } = body.error;
    const cls =
      BY_CODE[code] ?? BY_STATUS[status] ?? (status >= 500 ? InternalServerError : APIError);
    return new cls(status, code, message, details ?? {}, headers);
  }
  // Not our envelope (a proxy, a load balancer): keep the status and a readable message.
  const cls = BY_STATUS[status] ?? (status >= 500 ? InternalServerError : APIError);
  const code = DEFAULT_CODES[status] ?? (status >= 500 ? 'INTERNAL_ERROR' : 'HTTP_ERROR');
  const text = typeof body === 'string' && body.trim() ? `: ${body.trim().slice(0, 200)}` : '';
  return new cls(status, code, `HTTP ${status}${text}`, {}, headers);
}

const STATUS_BY_CODE: Record<string, number> = {
  ...Object.fromEntries(Object.entries(DEFAULT_CODES).map(([status, code]) => [code, Number(status)])),
  INTERNAL_ERROR: 500,
};

/**
 * The typed error for an envelope's `error` object that arrived without an HTTP answer
 * (a WebSocket `{"type": "error", "data": {...}}` message); status follows the code.
 */
export function errorFromEnvelope(error: ErrorEnvelope['error']): APIError {
  const status = STATUS_BY_CODE[error.code] ?? 500;
  return errorFromResponse(status, { error }, new Headers());
}

/** `Retry-After` as seconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null): number | null {
  if (value === null || value.trim() === '') return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return null;
  return Math.max(0, (date - Date.now()) / 1000);
}
