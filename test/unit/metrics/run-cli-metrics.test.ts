import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../../e2e/support/build.js';
import { runCli, startCli, useWorkspaces, waitFor } from '../../e2e/support/cli.js';
import { pgAvailable, PG_URL } from '../postgres/helpers.js';
import { scrape, valueOf } from './prometheus.js';

const STREAMING_JOB = `
env:
  name: metrics-cli
  mode: streaming
  checkpoint: { interval: 200ms, dir: checkpoints }
source:
  - type: fake
    name: clicks
    unbounded: true
    rows_per_second: 2000
sink:
  - type: blackhole
    name: nowhere
`;

describe('tideway run --metrics-port', () => {
  beforeAll(ensureBuilt, 240_000);
  const workspace = useWorkspaces();

  it('serves the running job\'s metrics until the run ends', async () => {
    const cwd = workspace({ 'job.yaml': STREAMING_JOB });
    const run = startCli(['run', 'job.yaml', '--metrics-port', '0'], { cwd, timeoutMs: 60_000 });
    let url = '';
    await waitFor(() => {
      const match = /metrics of this run at http:\/\/localhost:(\d+)\/metrics/.exec(run.output().stderr);
      if (match) url = `http://127.0.0.1:${match[1]}/metrics`;
      return url !== '';
    }, 'the metrics address on stderr');
    // Rows appear with the first progress report.
    for (let rows = 0; rows === 0; ) {
      const { families } = await scrape(url);
      rows = valueOf(families, 'tideway_stage_rows_total', { job: 'metrics-cli', stage: 'clicks', direction: 'out' }) ?? 0;
      if (rows === 0) await new Promise((r) => setTimeout(r, 100));
    }
    const { families } = await scrape(url);
    expect(valueOf(families, 'tideway_job_status', { job: 'metrics-cli', status: 'running' })).toBe(1);
    expect(valueOf(families, 'tideway_stage_rows_total', { job: 'metrics-cli', stage: 'nowhere', stage_type: 'blackhole', direction: 'in' })).toBeGreaterThanOrEqual(0);
    run.child.kill('SIGINT');
    const ended = await run.done;
    expect(ended.code, ended.stderr).toBe(130);
    // The server stopped with the run.
    await expect(fetch(url)).rejects.toThrow();
  });

  it('--metrics-linger keeps the final status scrapeable after a batch run ends; Ctrl-C ends the wait', async () => {
    const cwd = workspace({
      'job.yaml': 'env:\n  name: metrics-linger\n  checkpoint: { dir: checkpoints }\nsource:\n  - type: fake\n    rows: 500\nsink:\n  - type: blackhole\n',
    });
    const run = startCli(['run', 'job.yaml', '--metrics-port', '0', '--metrics-linger', '60'], { cwd, timeoutMs: 60_000 });
    let url = '';
    await waitFor(() => {
      const match = /metrics of this run at http:\/\/localhost:(\d+)\/metrics/.exec(run.output().stderr);
      if (match) url = `http://127.0.0.1:${match[1]}/metrics`;
      return url !== '' && /final metrics stay at/.test(run.output().stderr);
    }, 'the run to end and linger');
    const { families } = await scrape(url);
    expect(valueOf(families, 'tideway_job_status', { job: 'metrics-linger', status: 'finished' })).toBe(1);
    expect(valueOf(families, 'tideway_job_status', { job: 'metrics-linger', status: 'running' })).toBe(0);
    expect(valueOf(families, 'tideway_stage_rows_total', { job: 'metrics-linger', stage: 'fake', direction: 'out' })).toBe(500);
    run.child.kill('SIGINT');
    const ended = await run.done;
    // The job finished: Ctrl-C only cut the wait short (and says nothing about stopping a job).
    expect(ended.code, ended.stderr).toBe(0);
    expect(ended.stderr).not.toContain('stopping gracefully');
    await expect(fetch(url)).rejects.toThrow();
  });

  it.skipIf(!pgAvailable)('never shows a secret in a label: a stage named from a variable that feeds a password is *** in every series', async () => {
    const secret = 'pw-Zx81-never-scraped';
    const table = `public.metrics_secret_${randomBytes(3).toString('hex')}`;
    const cwd = workspace({
      'job.yaml':
        'env:\n  name: metrics-secret\n  checkpoint: { dir: checkpoints }\nsource:\n  - type: fake\n    name: gen-${PW}\n    rows: 300\n' +
        `sink:\n  - type: postgres\n    name: out\n    url: ${PG_URL}\n    password: \${PW}\n    table: ${table}\n`,
    });
    const run = startCli(['run', 'job.yaml', '--var', `PW=${secret}`, '--metrics-port', '0', '--metrics-linger', '60'], { cwd, timeoutMs: 60_000 });
    try {
      let url = '';
      await waitFor(() => {
        const match = /metrics of this run at http:\/\/localhost:(\d+)\/metrics/.exec(run.output().stderr);
        if (match) url = `http://127.0.0.1:${match[1]}/metrics`;
        return url !== '' && /final metrics stay at/.test(run.output().stderr);
      }, 'the run to end and linger');
      const text = await (await fetch(url)).text();
      expect(text).not.toContain(secret);
      const { families } = await scrape(url);
      expect(valueOf(families, 'tideway_stage_rows_total', { job: 'metrics-secret', stage: 'gen-***', direction: 'out' })).toBe(300);
      expect(valueOf(families, 'tideway_stage_rows_total', { job: 'metrics-secret', stage: 'out', direction: 'in' })).toBe(300);
    } finally {
      run.child.kill('SIGINT');
      const ended = await run.done;
      expect(ended.code, ended.stderr).toBe(0);
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`DROP TABLE IF EXISTS ${table}`);
      await client.end();
    }
  });

  it('refuses a port in use before running, naming the option', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const cwd = workspace({ 'job.yaml': STREAMING_JOB });
      const run = await runCli(['run', 'job.yaml', '--metrics-port', String(port)], { cwd, timeoutMs: 60_000 });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('PORT_IN_USE');
      expect(run.stderr).toContain(`--metrics-port ${port}`);
    } finally {
      blocker.close();
    }
  });
});
