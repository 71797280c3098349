import type { Logger } from '../api/logger.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Plain log lines on stderr: `time LEVEL message key=value`. Callers never pass secrets in fields. */
export function stderrLogger(level: LogLevel = 'info', prefix = ''): Logger {
  const line = (at: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (RANK[at] < RANK[level]) return;
    const extra = fields
      ? Object.entries(fields)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => ` ${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
          .join('')
      : '';
    process.stderr.write(`${new Date().toISOString()} ${at.toUpperCase().padEnd(5)} ${prefix}${message}${extra}\n`);
  };
  return {
    debug: (m, f) => line('debug', m, f),
    info: (m, f) => line('info', m, f),
    warn: (m, f) => line('warn', m, f),
    error: (m, f) => line('error', m, f),
  };
}

/** A logger that adds fixed fields to every line. */
export function withFields(logger: Logger, fixed: Record<string, unknown>): Logger {
  return {
    debug: (m, f) => logger.debug(m, { ...fixed, ...f }),
    info: (m, f) => logger.info(m, { ...fixed, ...f }),
    warn: (m, f) => logger.warn(m, { ...fixed, ...f }),
    error: (m, f) => logger.error(m, { ...fixed, ...f }),
  };
}
