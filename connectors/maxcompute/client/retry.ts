import { TidewayError } from '../../../src/api/errors.js';

/** How failed requests are retried. */
export interface RetryPolicy {
  /** Attempts after the first that fail without progress before giving up. @default 5 */
  maxRetries: number;
  /** First backoff. @default 500 */
  baseDelayMs: number;
  /** Largest backoff. @default 30000 */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 5, baseDelayMs: 500, maxDelayMs: 30_000 };

/** Exponential backoff with jitter (half fixed, half random), or the server's Retry-After when it gave one. */
export function backoffDelay(policy: RetryPolicy, attempt: number, error: unknown): number {
  const retryAfter = error instanceof TidewayError ? error.context.retryAfterMs : undefined;
  if (typeof retryAfter === 'number' && retryAfter >= 0) return Math.min(retryAfter, policy.maxDelayMs);
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return exp / 2 + Math.random() * (exp / 2);
}

/** Parses Retry-After (seconds, or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  const seconds = Number(text);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Sleeps, waking early (with the abort reason) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
