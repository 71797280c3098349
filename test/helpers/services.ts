import { connect } from 'node:net';

/** Whether a TCP service answers at host:port, and if not, why (refused, timed out, unknown host). */
export async function probeService(host: string, port: number, timeoutMs = 2000): Promise<{ ok: true } | { ok: false; reason: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (result: { ok: true } | { ok: false; reason: string }): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ ok: false, reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
    socket.once('connect', () => done({ ok: true }));
    socket.once('error', (error: NodeJS.ErrnoException) => done({ ok: false, reason: error.code ?? error.message }));
  });
}

/**
 * For test files that need a real service (PostgreSQL, MySQL, Redis...): resolves true when it answers.
 * When it does not, the file fails under CI=true (a CI run must not pass by skipping) and is otherwise
 * skipped with the reason printed. Use at the top of a test file:
 *
 *   const pgUp = await requireService('PostgreSQL', '127.0.0.1', 5432);
 *   describe.skipIf(!pgUp)('postgres source', () => { ... });
 */
export async function requireService(name: string, host: string, port: number): Promise<boolean> {
  const probe = await probeService(host, port);
  if (probe.ok) return true;
  const message = `${name} is not reachable at ${host}:${port} (${probe.reason})`;
  if (process.env.CI === 'true') {
    throw new Error(`${message}; CI=true requires it. Start ${name} or run without CI=true to skip these tests.`);
  }
  console.warn(`skipping: ${message}. Start ${name} to run these tests (CI=true makes this a failure).`);
  return false;
}
