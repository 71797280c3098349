import type { Logger } from '../api/logger.js';
import type { Redactor } from '../config/secrets.js';

/** What the commands need from the process: two text streams and the environment. */
export interface CliIo {
  /** Machine output only: `--json`, `check`'s plan, `connectors` tables. */
  stdout: TextStream;
  /** Everything meant for people: logs, progress, reports, errors. */
  stderr: TextStream;
  env: Readonly<Record<string, string | undefined>>;
  /** Redacts every line written to either stream once the job's secrets are known. */
  redactor: Redactor;
}

export interface TextStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/**
 * Makes every write to `stream` pass through the redactor, including writes by code the CLI does not control
 * (engine log lines, worker threads' stderr, which Node pipes through the parent's stream).
 */
export function redactWrites(stream: NodeJS.WriteStream, redactor: Redactor): void {
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (redactor.size === 0) return write(chunk, ...rest);
    if (typeof chunk === 'string') return write(redactor.redact(chunk), ...rest);
    if (chunk instanceof Uint8Array) {
      const args = typeof rest[0] === 'string' ? ['utf8', ...rest.slice(1)] : rest;
      return write(redactor.redact(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8')), ...args);
    }
    return write(chunk, ...rest);
  }) as typeof stream.write;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Log lines for people: `12:00:01 INFO  message key=value`, through `print` (which may be a progress display's log). */
export function cliLogger(level: LogLevel, print: (line: string) => void): Logger {
  const line = (at: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (RANK[at] < RANK[level]) return;
    const extra = fields
      ? Object.entries(fields)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => ` ${k}=${typeof v === 'string' ? (/[\s"]/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
          .join('')
      : '';
    const time = new Date().toTimeString().slice(0, 8);
    print(`${time} ${at.toUpperCase().padEnd(5)} ${message}${extra}\n`);
  };
  return {
    debug: (m, f) => line('debug', m, f),
    info: (m, f) => line('info', m, f),
    warn: (m, f) => line('warn', m, f),
    error: (m, f) => line('error', m, f),
  };
}
