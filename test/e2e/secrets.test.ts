import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from './support/build.js';
import { runCli, startCli, useWorkspaces, waitFor } from './support/cli.js';

const ACCESS_KEY_ID = 'e2e-access-key-id';
const SECRET = 'tw-e2e-Secret-7f3kq9x';

let endpoint = '';
let stopEmulator: (() => void) | undefined;

beforeAll(async () => {
  await ensureBuilt();
  // A real OSS-protocol server that checks signatures, so a wrong secret fails the way OSS fails it.
  const emulator = startCli(['emulator', 'oss', '--access-key-id', ACCESS_KEY_ID, '--access-key-secret', SECRET, '--bucket', 'demo', '--json'], { cwd: ROOT, env: {}, timeoutMs: 600_000 });
  stopEmulator = () => emulator.child.kill('SIGINT');
  await waitFor(() => emulator.output().stdout.includes('\n'), 'the OSS emulator');
  endpoint = (JSON.parse(emulator.output().stdout) as { endpoint: string }).endpoint;
}, 240_000);

afterAll(() => stopEmulator?.());

const workspace = useWorkspaces();

/** The secret goes to access_key_secret and, to test the redactor, also into the (printed) path. */
const job = (extra = '') => `env:
  name: e2e-secrets
  checkpoint:
    dir: .ckpt
source:
  - type: fake
    rows: 200
sink:
  - type: oss
    endpoint: ${endpoint}
    bucket: demo
    path: exports/\${OSS_SECRET}
    access_key_id: ${ACCESS_KEY_ID}
    access_key_secret: \${OSS_SECRET}
    format: jsonl
${extra}`;

async function tideway(args: string[], yaml: string, env: Record<string, string> = {}) {
  const dir = workspace({ 'job.yaml': yaml });
  return runCli(args, { cwd: dir, env, timeoutMs: 60_000 });
}

function expectNoSecret(run: { stdout: string; stderr: string }, secret = SECRET): void {
  expect(run.stdout).not.toContain(secret);
  expect(run.stderr).not.toContain(secret);
  // Not even a recognisable piece of it.
  expect(`${run.stdout}${run.stderr}`).not.toContain(secret.slice(3, 14));
}

describe('secrets never appear in output', () => {
  it('check shows secret options and anything holding a secret value as ***', async () => {
    const run = await tideway(['check', 'job.yaml', '--var', `OSS_SECRET=${SECRET}`], job());
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^ {4}access_key_secret: +\*\*\*$/m);
    expect(run.stdout).toMatch(/^ {4}path: +exports\/\*\*\*$/m);
    expectNoSecret(run);
  });

  it('a secret from the environment is masked the same way', async () => {
    const run = await tideway(['check', 'job.yaml'], job(), { OSS_SECRET: SECRET });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^ {4}access_key_secret: +\*\*\*$/m);
    expectNoSecret(run);
  });

  it('a run, with --verbose logs and the --json report, never prints it', async () => {
    const run = await tideway(['run', 'job.yaml', '--var', `OSS_SECRET=${SECRET}`, '--json', '--verbose'], job());
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'finished', rowsWritten: 200 });
    expect(run.stderr).toMatch(/DEBUG/);
    expectNoSecret(run);
  });

  it('a run refused for a wrong secret fails (exit 1) without printing the wrong secret', async () => {
    const wrong = 'tw-e2e-Wrong-secret-42';
    const run = await tideway(['run', 'job.yaml', '--var', `OSS_SECRET=${wrong}`, '--json', '--verbose'], job());
    expect(run.code, run.stderr).toBe(1);
    const report = JSON.parse(run.stdout) as { status: string; error: { code: string; message: string } };
    expect(report.status).toBe('failed');
    expect(report.error.code).toBe('OSS_ACCESS_DENIED');
    expect(run.stderr).toMatch(/^error \[OSS_ACCESS_DENIED\]: .*oss:\/\/demo\/exports\/\*\*\*\//m);
    expectNoSecret(run, wrong);
  });

  it('an invalid job lists its problems without the secret, in text and in --json', async () => {
    const run = await tideway(['run', 'job.yaml', '--var', `OSS_SECRET=${SECRET}`, '--json'], job('    colour: blue\n'));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^job\.yaml:16:5: sink\[0\]\.colour: unknown option "colour"/m);
    expect((JSON.parse(run.stdout) as { error: { code: string } }).error.code).toBe('CONFIG_INVALID');
    expectNoSecret(run);
  });
});
