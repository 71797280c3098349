import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from './support/build.js';
import { startCli, waitFor } from './support/cli.js';

beforeAll(ensureBuilt, 240_000);

const children: { kill: (signal?: NodeJS.Signals) => boolean }[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** Starts `tideway emulator <args> --json`, waits for its connection details, then stops it with SIGINT. */
async function serve(args: string[]) {
  const started = startCli(['emulator', ...args, '--json'], { cwd: ROOT, env: {} });
  children.push(started.child);
  await waitFor(() => started.output().stdout.includes('\n'), 'the connection details');
  const details = JSON.parse(started.output().stdout) as { endpoint: string } & Record<string, unknown>;
  return { details, started };
}

describe('tideway emulator', () => {
  it('oss serves OSS XML until SIGINT, then exits 0', async () => {
    const { details, started } = await serve(['oss', '--bucket', 'demo']);
    expect(details.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // An unsigned request is refused the way OSS refuses it: an XML error document.
    const response = await fetch(`${details.endpoint}/`, { headers: { Host: `demo.${new URL(details.endpoint).host}` } });
    expect(response.status).toBe(403);
    expect(await response.text()).toMatch(/<Error><Code>AccessDenied<\/Code>/);
    started.child.kill('SIGINT');
    const done = await started.done;
    expect(done.code).toBe(0);
  });

  it('maxcompute serves the demo project until SIGINT, then exits 0', async () => {
    const { details, started } = await serve(['maxcompute']);
    expect(details).toMatchObject({ project: 'tideway_demo', accessId: 'tideway-demo' });
    expect(details.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api$/);
    // Unsigned: the ODPS endpoint answers with its JSON/XML error, proving the server speaks the protocol.
    const response = await fetch(`${details.endpoint}/projects/tideway_demo/tables/orders`);
    expect(response.status).toBeGreaterThanOrEqual(400);
    started.child.kill('SIGINT');
    expect((await started.done).code).toBe(0);
  });

  it('rejects a bad option with exit 2', async () => {
    const started = startCli(['emulator', 'oss', '--route', 'sideways'], { cwd: ROOT, env: {} });
    const done = await started.done;
    expect(done.code).toBe(2);
    expect(done.stderr).toMatch(/--route: must be auto, host or path/);
  });
});
