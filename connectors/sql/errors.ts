import { TidewayError } from '../../src/api/errors.js';

/** A position inside the query text: 0-based offset, 1-based line and column. */
export interface QueryPosition {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

export const START: QueryPosition = { offset: 0, line: 1, column: 1 };

/**
 * A check-time error about the query (syntax, unknown column or function, type mismatch): code SQL_*, the
 * position inside the query in the message and in the context, so `check` can point at it.
 */
export function queryError(code: string, message: string, at: QueryPosition, cause?: unknown): TidewayError {
  return new TidewayError(code, `sql query, line ${at.line}, column ${at.column}: ${message}`, {
    context: { connector: 'sql', option: 'query', line: at.line, column: at.column },
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Thrown by a function for one row (a failed CAST, bad JSON): the row is rejected, or NULL under TRY_CAST. */
export class RowFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
