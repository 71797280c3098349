import { TidewayError } from '../api/errors.js';

/**
 * The CLI's view of operating-system errors that are a user's mistake rather than a bug: each becomes a
 * coded error naming the option and the value, instead of `INTERNAL` with a raw errno. The original is not
 * kept as `cause`: its text (the OSS emulator repeats the errno) would only be printed again after ours.
 */
export function userSystemError(error: unknown, where: { port?: { option: string; value: number | string | undefined; host?: string | undefined } }): TidewayError | undefined {
  // The errno may sit under a connector's own wrapper (the OSS emulator wraps its listen error and repeats it).
  const code = errnoIn(error);
  if ((code === 'EADDRINUSE' || code === 'EACCES') && where.port) {
    const { option, value, host } = where.port;
    const address = `${host ?? '127.0.0.1'}:${value ?? '?'}`;
    return code === 'EADDRINUSE'
      ? new TidewayError('PORT_IN_USE', `${option} ${value ?? ''}: ${address} is already in use by another process; choose another ${option} (or leave it out for any free port), or stop the process using it`)
      : new TidewayError('PORT_NOT_ALLOWED', `${option} ${value ?? ''}: this process may not listen on ${address}; ports below 1024 need privileges, so choose a port from 1024 to 65535`);
  }
  return undefined;
}

/** The value of `--name <value>` or `--name=value` in raw arguments (the OSS emulator parses its own). */
export function argValue(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === name) return args[i + 1];
    if (arg.startsWith(`${name}=`)) return arg.slice(name.length + 1);
  }
  return undefined;
}

/** The first Node errno code (`EADDRINUSE`, ...) in `error` or its causes. */
function errnoIn(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
    current = current.cause;
  }
  return undefined;
}
