import { createServer, type Server } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from './support/build.js';
import { runCli, useWorkspaces } from './support/cli.js';

beforeAll(ensureBuilt, 240_000);

const workspace = useWorkspaces();
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A port some other process (here: this one) is listening on. */
async function busyPort(): Promise<number> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

describe('emulator commands: a user\'s mistake is a coded error naming the option, exit 2', () => {
  it.each([['oss'], ['maxcompute']])('%s: a port in use is PORT_IN_USE naming --port, not INTERNAL', async (which) => {
    const port = await busyPort();
    const run = await runCli(['emulator', which, '--port', String(port)], { cwd: workspace(), timeoutMs: 20_000 });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`^error \\[PORT_IN_USE\\]: --port ${port}: 127\\.0\\.0\\.1:${port} is already in use by another process; choose another --port`, 'm'));
    expect(run.stderr).not.toMatch(/INTERNAL/);
  });

  it('oss: --data-dir that is a file is PATH_NOT_DIRECTORY naming --data-dir', async () => {
    const dir = workspace();
    writeFileSync(join(dir, 'data'), 'a file');
    const run = await runCli(['emulator', 'oss', '--data-dir', 'data'], { cwd: dir, timeoutMs: 20_000 });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`^error \\[PATH_NOT_DIRECTORY\\]: --data-dir ${join(dir, 'data').replace(/[/.-]/g, '\\$&')}: is a file, not a directory`, 'm'));
  });
});
