import { type ErrorContext, TidewayError } from '../../src/api/errors.js';

/** A MySQL/MariaDB connector error: stable code, what and where, never a password. */
export function mysqlError(code: string, message: string, options: { cause?: unknown; context?: ErrorContext; retryable?: boolean } = {}): TidewayError {
  return new TidewayError(code, message, { ...options, context: { connector: 'mysql', ...options.context } });
}

/** The server's own words for a driver error (`ER_DUP_ENTRY: Duplicate entry ...`), without the SQL text. */
export function serverMessage(error: unknown): string {
  const e = error as { code?: string; sqlMessage?: string; message?: string };
  if (e.sqlMessage) return `${e.code ? `${e.code}: ` : ''}${e.sqlMessage}`;
  return e.message ?? String(error);
}

/** Whether the driver error is one of these server or network codes. */
export function hasCode(error: unknown, ...codes: string[]): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && codes.includes(code);
}
