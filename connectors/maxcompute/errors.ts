import { TidewayError, type ErrorContext } from '../../src/api/errors.js';

/** Stable error codes raised by the MaxCompute connector, its client and its codec. */
export type MaxComputeErrorCode =
  | 'MAXCOMPUTE_NO_SUCH_PROJECT'
  | 'MAXCOMPUTE_NO_SUCH_TABLE'
  | 'MAXCOMPUTE_NO_SUCH_PARTITION'
  | 'MAXCOMPUTE_SESSION_EXPIRED'
  | 'MAXCOMPUTE_SESSION_FAILED'
  | 'MAXCOMPUTE_AUTH_FAILED'
  | 'MAXCOMPUTE_CLOCK_SKEW'
  | 'MAXCOMPUTE_INVALID_COLUMN'
  | 'MAXCOMPUTE_INVALID_ROW_RANGE'
  | 'MAXCOMPUTE_THROTTLED'
  | 'MAXCOMPUTE_SERVER_ERROR'
  | 'MAXCOMPUTE_REQUEST_FAILED'
  | 'MAXCOMPUTE_NETWORK'
  | 'MAXCOMPUTE_CORRUPT_STREAM'
  | 'MAXCOMPUTE_UNSUPPORTED_TYPE'
  | 'MAXCOMPUTE_VALUE_OUT_OF_RANGE'
  | 'MAXCOMPUTE_INVALID_OPTIONS';

export interface MaxComputeErrorOptions {
  cause?: unknown;
  context?: ErrorContext;
  retryable?: boolean;
}

/** Builds a TidewayError tagged with `connector: 'maxcompute'`. */
export function maxComputeError(code: MaxComputeErrorCode, message: string, options: MaxComputeErrorOptions = {}): TidewayError {
  return new TidewayError(code, message, {
    cause: options.cause,
    retryable: options.retryable ?? false,
    context: { connector: 'maxcompute', ...options.context },
  });
}

/** True for errors a read may recover from by reconnecting and resuming at the first undelivered row. */
export function isResumable(error: unknown): boolean {
  return error instanceof TidewayError && error.retryable && error.code !== 'MAXCOMPUTE_SESSION_EXPIRED';
}
