/**
 * Our own retry policy around ali-oss: the client retries only socket errors, and only for bodies it can
 * replay, with a fixed pause; a 5xx or a response timeout surfaces at once. Every OSS call the connector
 * makes goes through `withRetry`.
 */
export interface RetryPolicy {
  /** Attempts after the first. */
  maxRetries: number;
  /** Backoff before the first retry; it doubles per attempt. */
  baseDelayMs: number;
  /** Largest backoff. */
  maxDelayMs: number;
}

/** Network-level failures, by the names and codes Node and urllib give them. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);
const TRANSIENT_NAMES = new Set(['ResponseTimeoutError', 'ConnectionTimeoutError', 'RequestError', 'ResponseError', 'SocketError', 'AbortError']);
/** OSS error codes that mean "try again" even though their status is 4xx. */
const TRANSIENT_OSS_CODES = new Set(['RequestTimeout', 'ServiceUnavailable', 'InternalError', 'SlowDown']);

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  status?: unknown;
  message?: unknown;
  cause?: unknown;
}

/**
 * True for failures a later attempt may not see: 5xx, 429, timeouts, connection resets and refusals, and
 * responses cut short (ali-oss then fails to parse a partial body and reports status 200 or 206).
 */
export function isTransient(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current && typeof current === 'object' && depth < 4; depth++) {
    const e = current as ErrorShape;
    const status = typeof e.status === 'number' ? e.status : undefined;
    if (status !== undefined && (status >= 500 || status === 429 || status === -1 || status === -2)) return true;
    if (typeof e.code === 'string' && (NETWORK_CODES.has(e.code) || TRANSIENT_OSS_CODES.has(e.code))) return true;
    if (typeof e.name === 'string' && TRANSIENT_NAMES.has(e.name)) return true;
    if (status !== undefined && status >= 200 && status < 300 && typeof e.message === 'string' && e.message.includes('raw xml')) return true;
    // Only for failures without an HTTP answer: an OSS error message may well say "aborted" (NoSuchUpload does).
    if (status === undefined && typeof e.message === 'string' && /\b(socket hang up|aborted|ECONNRESET|premature close)\b/i.test(e.message)) return true;
    current = e.cause;
  }
  return false;
}

/** Exponential backoff with full jitter on the upper half: `exp/2 + random * exp/2`. */
export function backoffMs(policy: RetryPolicy, attempt: number): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return exp / 2 + Math.random() * (exp / 2);
}

export interface RetryHooks {
  signal?: AbortSignal | undefined;
  /** Called before each retry with the attempt number (1 = first retry) and the failure. */
  onRetry?: (attempt: number, error: unknown, delayMs: number) => void;
  /** Overrides `isTransient` for one call (for example: a read stream error is always worth a retry). */
  retryable?: (error: unknown) => boolean;
}

/** Runs `fn`, retrying transient failures per `policy`. The last failure is rethrown as it came. */
export async function withRetry<T>(policy: RetryPolicy, fn: (attempt: number) => Promise<T>, hooks: RetryHooks = {}): Promise<T> {
  const retryable = hooks.retryable ?? isTransient;
  for (let attempt = 0; ; attempt++) {
    hooks.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= policy.maxRetries || !retryable(error) || hooks.signal?.aborted) throw error;
      const delay = backoffMs(policy, attempt + 1);
      hooks.onRetry?.(attempt + 1, error, delay);
      await sleep(delay, hooks.signal);
    }
  }
}

/** Sleeps, or rejects with the abort reason as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
