import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import { createServer, type TidewayServer } from '../../../src/server/app.js';
import type { JobView } from '../../../src/server/jobs.js';
import { metricsPlugin } from '../../../src/server/metrics.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { samplesOf, scrape, valueOf } from './prometheus.js';

const dir = useTempDirs();
const servers: TidewayServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(token?: string): Promise<string> {
  const server = createServer({ stateDir: dir(), baseDir: dir(), logger: silentLogger, progressIntervalMs: 50, plugins: [metricsPlugin], token });
  servers.push(server);
  return server.listen({ port: 0 });
}

async function submit(base: string, job: object): Promise<string> {
  const response = await fetch(`${base}/api/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ job }) });
  expect(response.status, await response.clone().text()).toBe(201);
  return ((await response.json()) as { id: string }).id;
}

async function waitForStatus(base: string, id: string, statuses: string[]): Promise<JobView> {
  for (;;) {
    const view = (await (await fetch(`${base}/api/jobs/${id}`)).json()) as JobView;
    if (statuses.includes(view.status)) return view;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Rows are named customer-<id>; ids from 128 do not fit the int8 the split asks for, so it rejects them. */
function fakeJob(name: string, extra: { rows?: number; unbounded?: boolean } = {}) {
  return {
    env: { name, ...(extra.unbounded ? { mode: 'streaming' } : {}), checkpoint: { interval: '100ms' }, errors: { tolerance: 'all' } },
    source: [{ type: 'fake', name: 'gen', rows: extra.rows ?? 3000, chunk_rows: 250, rows_per_second: 6000, ...(extra.unbounded ? { unbounded: true } : {}) }],
    transform: [
      { type: 'split', name: 'parse', split_field: 'name', separator: '-', output_fields: ['prefix', 'number'], output_types: ['string', 'int8'] },
      { type: 'filter', name: 'keep', where: [{ column: 'active', op: '==', value: true }] },
    ],
    sink: [{ type: 'blackhole', name: 'void' }],
  };
}

describe('GET /metrics on the job server', () => {
  it('reports each job by name with the values of its API view, and the status of every job', async () => {
    const base = await start();
    const done = await submit(base, fakeJob('batch-one'));
    const finished = await waitForStatus(base, done, ['finished', 'failed']);
    expect(finished.status, JSON.stringify(finished.lastError)).toBe('finished');
    const streaming = await submit(base, fakeJob('stream-one', { unbounded: true }));
    // Wait until the streaming job has committed a checkpoint, so it has a checkpoint age.
    for (let view = await waitForStatus(base, streaming, ['running']); view.checkpoints.length === 0; ) {
      await new Promise((r) => setTimeout(r, 50));
      view = await waitForStatus(base, streaming, ['running']);
    }

    const { families, contentType } = await scrape(`${base}/metrics`);
    expect(contentType).toMatch(/^text\/plain/);
    const progress = finished.progress!;
    const rows = (stage: string, direction: string) => valueOf(families, 'tideway_stage_rows_total', { job: 'batch-one', stage, direction });
    expect(rows('gen', 'out')).toBe(3000);
    const keep = progress.transforms.find((t) => t.name === 'keep')!;
    expect(rows('parse', 'in')).toBe(3000);
    expect(rows('parse', 'out')).toBe(128);
    expect(rows('keep', 'in')).toBe(128);
    expect(rows('keep', 'out')).toBe(keep.rowsOut);
    expect(rows('void', 'in')).toBe(progress.sinks[0]!.rowsWritten);
    expect(progress.sinks[0]!.rowsWritten).toBe(keep.rowsOut);
    const deadLettered = (stage: string) => valueOf(families, 'tideway_stage_dead_letter_rows_total', { job: 'batch-one', stage });
    expect(deadLettered('parse')).toBe(3000 - 128);
    expect(deadLettered('parse')).toBe(finished.rowsErrored.parse);
    expect(deadLettered('keep')).toBe(0);

    const committed = finished.checkpoints.filter((c) => c.status === 'committed');
    expect(valueOf(families, 'tideway_checkpoint_duration_seconds_count', { job: 'batch-one', status: 'committed' })).toBe(committed.length);
    expect(valueOf(families, 'tideway_checkpoint_last_size_bytes', { job: 'batch-one' })).toBe(committed.at(-1)!.bytes);
    expect(valueOf(families, 'tideway_checkpoint_last_committed_rows', { job: 'batch-one' })).toBe(progress.rowsWritten);

    const statusOf = (job: string) =>
      samplesOf(families, 'tideway_job_status', { job })
        .filter((s) => s.value === '1')
        .map((s) => s.labels?.status);
    expect(statusOf('batch-one')).toEqual(['finished']);
    expect(statusOf('stream-one')).toEqual(['running']);
    expect(samplesOf(families, 'tideway_job_status', { job: 'stream-one' })).toHaveLength(7);
    expect(valueOf(families, 'tideway_seconds_since_last_checkpoint', { job: 'stream-one' })).toBeGreaterThanOrEqual(0);
    expect(valueOf(families, 'tideway_seconds_since_last_checkpoint', { job: 'batch-one' })).toBeUndefined();
    expect(valueOf(families, 'tideway_pipeline_queue_capacity', { job: 'stream-one', pipeline: '0', source: 'gen' })).toBe(4);

    // A second run of the same name replaces the first in the metrics (names are the label, not ids).
    const second = fakeJob('batch-one', { rows: 500 });
    const again = await submit(base, { ...second, env: { ...second.env, checkpoint: { interval: '100ms', dir: 'other' } } });
    const secondView = await waitForStatus(base, again, ['finished', 'failed']);
    expect(secondView.status, JSON.stringify(secondView.lastError)).toBe('finished');
    const after = (await scrape(`${base}/metrics`)).families;
    expect(valueOf(after, 'tideway_stage_rows_total', { job: 'batch-one', stage: 'gen', direction: 'out' })).toBe(500);
    expect(valueOf(after, 'tideway_stage_dead_letter_rows_total', { job: 'batch-one', stage: 'parse' })).toBe(500 - 128);

    await fetch(`${base}/api/jobs/${streaming}/stop`, { method: 'POST' });
    await waitForStatus(base, streaming, ['cancelled']);
    const stopped = (await scrape(`${base}/metrics`)).families;
    expect(valueOf(stopped, 'tideway_job_status', { job: 'stream-one', status: 'cancelled' })).toBe(1);
    expect(valueOf(stopped, 'tideway_seconds_since_last_checkpoint', { job: 'stream-one' })).toBeUndefined();
  });

  it('never shows a secret in a label: a stage or job named from a secret variable is *** in every series', async () => {
    const base = await start();
    const secret = 'tag-Qz71-kept-secret';
    const job = `env:\n  name: \${JOB}\n  checkpoint: { interval: 100ms }\nsource:\n  - type: fake\n    name: gen-\${TAG}\n    rows: 300\n    chunk_rows: 100\nsink:\n  - type: blackhole\n    name: out\n`;
    const response = await fetch(`${base}/api/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ job, variables: { TAG: secret, JOB: secret }, secretVariables: ['TAG', 'JOB'] }),
    });
    expect(response.status, await response.clone().text()).toBe(201);
    const { id } = (await response.json()) as { id: string };
    const view = await waitForStatus(base, id, ['finished', 'failed']);
    expect(view.status, JSON.stringify(view.lastError)).toBe('finished');
    expect(JSON.stringify(view)).not.toContain(secret);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).not.toContain(secret);
    const { families } = await scrape(`${base}/metrics`);
    // The series are still there, under the masked names; values are untouched.
    expect(valueOf(families, 'tideway_stage_rows_total', { job: '***', stage: 'gen-***', direction: 'out' })).toBe(300);
    expect(valueOf(families, 'tideway_stage_rows_total', { job: '***', stage: 'out', direction: 'in' })).toBe(300);
    expect(valueOf(families, 'tideway_job_status', { job: '***', status: 'finished' })).toBe(1);
    expect(valueOf(families, 'tideway_checkpoint_duration_seconds_count', { job: '***', status: 'committed' })).toBeGreaterThan(0);
  });

  it('needs the token when the server has one', async () => {
    const token = 'metrics-token-0123456789';
    const base = await start(token);
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    const response = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('# TYPE tideway_job_status gauge');
  });
});
