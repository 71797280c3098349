import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import type { CheckpointEvent, JobProgress } from '../../../src/engine/result.js';
import { runJob } from '../../../src/index.js';
import type { MetricsJob, MetricsSource } from '../../../src/server/metrics-registry.js';
import { RunMetricsFeed, startMetricsServer, type MetricsServer } from '../../../src/server/metrics-run.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { samplesOf, scrape, valueOf } from './prometheus.js';

const dir = useTempDirs();
const servers: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(source: MetricsSource): Promise<string> {
  const server = await startMetricsServer(0, source, { host: '127.0.0.1' });
  servers.push(server);
  return `http://127.0.0.1:${server.port}/metrics`;
}

describe('tideway run --metrics-port: /metrics of one run', () => {
  it('matches the run: rows and bytes per stage, checkpoints, queues, lag and status', async () => {
    const job = {
      env: { name: 'metrics-run', parallelism: 2, transport: 'in-process' as const, queue_capacity: 5, checkpoint: { interval: '50ms', dir: dir() } },
      source: [{ type: 'fake', name: 'orders', rows: 4000, splits: 4, chunk_rows: 200, rows_per_second: 4000 }],
      transform: [{ type: 'filter', name: 'big', where: [{ column: 'amount', op: '>=', value: 100 }] }],
      sink: [{ type: 'file', name: 'lake', path: join(dir(), 'out'), format: 'jsonl' }],
    };
    const feed = new RunMetricsFeed(job.env.name);
    const url = await serve(feed);
    const events: CheckpointEvent[] = [];
    let scrapedWhileRunning: Promise<Awaited<ReturnType<typeof scrape>>> | undefined;
    let lastProgress: JobProgress | undefined;
    const result = await runJob(job, {
      logger: silentLogger,
      progressIntervalMs: 20,
      onProgress: (p) => {
        feed.onProgress(p);
        lastProgress = p;
      },
      onCheckpoint: (e) => {
        feed.onCheckpoint(e);
        events.push(e);
        // One scrape while the run goes on, right after its first checkpoint committed.
        if (e.status === 'committed' && !e.endOfInput && !scrapedWhileRunning) scrapedWhileRunning = scrape(url);
      },
    });
    feed.ended(result.status);
    expect(result.status).toBe('finished');
    expect(lastProgress).toBeDefined();

    expect(scrapedWhileRunning, 'the run had no checkpoint before its end; it needs to be slower').toBeDefined();
    const during = (await scrapedWhileRunning!).families;
    expect(valueOf(during, 'tideway_job_status', { job: 'metrics-run', status: 'running' })).toBe(1);
    expect(valueOf(during, 'tideway_job_status', { job: 'metrics-run', status: 'finished' })).toBe(0);
    const since = valueOf(during, 'tideway_seconds_since_last_checkpoint', { job: 'metrics-run' });
    expect(since).toBeGreaterThanOrEqual(0);
    // Lag and rows read come from one progress snapshot, so they add up to the source's total.
    const readThen = valueOf(during, 'tideway_stage_rows_total', { stage: 'orders', direction: 'out' })!;
    expect(valueOf(during, 'tideway_source_lag_rows', { stage: 'orders' })).toBe(4000 - readThen);

    const { families, types, contentType } = await scrape(url);
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const rows = (stage: string, direction: string) => valueOf(families, 'tideway_stage_rows_total', { job: 'metrics-run', stage, direction });
    expect(rows('orders', 'out')).toBe(result.sources[0]!.rowsRead);
    expect(result.sources[0]!.rowsRead).toBe(4000);
    expect(rows('big', 'in')).toBe(result.transforms[0]!.rowsIn);
    expect(rows('big', 'out')).toBe(result.transforms[0]!.rowsOut);
    expect(result.transforms[0]!.rowsOut).toBeLessThan(4000);
    expect(rows('lake', 'in')).toBe(result.sinks[0]!.rowsWritten);
    expect(samplesOf(families, 'tideway_stage_rows_total', { stage: 'orders' })[0]?.labels?.stage_type).toBe('fake');
    const bytes = (stage: string, direction: string) => valueOf(families, 'tideway_stage_bytes_total', { job: 'metrics-run', stage, direction });
    expect(bytes('orders', 'out')).toBe(result.sources[0]!.bytesRead);
    expect(bytes('lake', 'in')).toBe(result.sinks[0]!.bytesWritten);
    expect(result.sinks[0]!.bytesWritten).toBeGreaterThan(0);

    expect(valueOf(families, 'tideway_job_status', { status: 'finished' })).toBe(1);
    expect(valueOf(families, 'tideway_job_status', { status: 'running' })).toBe(0);
    expect(valueOf(families, 'tideway_seconds_since_last_checkpoint', { job: 'metrics-run' })).toBeUndefined();
    expect(valueOf(families, 'tideway_source_lag_rows', { stage: 'orders' })).toBe(0);

    // Checkpoints: the histogram counts each event by outcome; the gauges hold the last committed one.
    const committed = events.filter((e) => e.status === 'committed');
    expect(committed.length).toBe(result.checkpoints);
    expect(valueOf(families, 'tideway_checkpoints_completed_total', { job: 'metrics-run' })).toBe(result.checkpoints);
    expect(types.get('tideway_checkpoint_duration_seconds')).toBe('HISTOGRAM');
    const ofCommitted = { job: 'metrics-run', status: 'committed' };
    expect(valueOf(families, 'tideway_checkpoint_duration_seconds_count', ofCommitted)).toBe(committed.length);
    expect(valueOf(families, 'tideway_checkpoint_duration_seconds_sum', ofCommitted)).toBeCloseTo(committed.reduce((s, e) => s + e.durationMs, 0) / 1000, 6);
    expect(valueOf(families, 'tideway_checkpoint_duration_seconds_bucket', { ...ofCommitted, le: '+Inf' })).toBe(committed.length);
    const within = (seconds: number) => committed.filter((e) => e.durationMs / 1000 <= seconds).length;
    expect(valueOf(families, 'tideway_checkpoint_duration_seconds_bucket', { ...ofCommitted, le: '0.5' })).toBe(within(0.5));
    expect(types.get('tideway_stage_rows_total')).toBe('COUNTER');
    expect(types.get('tideway_pipeline_queue_depth')).toBe('GAUGE');
    expect(valueOf(families, 'tideway_checkpoint_last_size_bytes', { job: 'metrics-run' })).toBe(committed.at(-1)!.bytes);
    expect(valueOf(families, 'tideway_checkpoint_last_committed_rows', { job: 'metrics-run' })).toBe(result.sinks[0]!.rowsWritten);

    const capacities = samplesOf(families, 'tideway_pipeline_queue_capacity', { job: 'metrics-run' });
    expect(capacities.map((s) => [s.labels?.pipeline, s.labels?.source, Number(s.value)])).toEqual([
      ['0', 'orders', 5],
      ['1', 'orders', 5],
    ]);
    for (const s of samplesOf(families, 'tideway_pipeline_queue_depth', { job: 'metrics-run' })) expect(Number(s.value)).toBeLessThanOrEqual(5);
  });

  it('reports dead-lettered rows per transform and sink, lag only where a source knows its total, one status per job', async () => {
    const progress = syntheticProgress();
    const source: MetricsSource = {
      statuses: ['queued', 'running', 'failed'],
      jobs: (): MetricsJob[] => [
        { name: 'a', status: 'failed', active: false, progress },
        { name: 'b', status: 'queued', active: false, progress: null },
      ],
      subscribe: () => () => {},
    };
    const { families, text } = await scrape(await serve(source));
    expect(valueOf(families, 'tideway_stage_dead_letter_rows_total', { job: 'a', stage: 'parse' })).toBe(7);
    expect(valueOf(families, 'tideway_stage_dead_letter_rows_total', { job: 'a', stage: 'db' })).toBe(3);
    expect(valueOf(families, 'tideway_stage_dead_letter_rows_total', { job: 'a', stage: 'old' })).toBe(0);
    // A stage whose progress has no count (a progress object from before dirty-data counting) has no series.
    expect(samplesOf(families, 'tideway_stage_dead_letter_rows_total', { stage: 'say "hi"\\' })).toHaveLength(0);
    expect(valueOf(families, 'tideway_source_lag_rows', { job: 'a', stage: 'files' })).toBe(1000 - 300 - 200);
    expect(samplesOf(families, 'tideway_source_lag_rows', { stage: 'stream' })).toHaveLength(0);
    expect(samplesOf(families, 'tideway_job_status', { job: 'a' }).map((s) => [s.labels?.status, Number(s.value)])).toEqual([
      ['queued', 0],
      ['running', 0],
      ['failed', 1],
    ]);
    expect(valueOf(families, 'tideway_job_status', { job: 'b', status: 'queued' })).toBe(1);
    // A job without progress has no stage series; names with quotes and backslashes stay intact.
    expect(samplesOf(families, 'tideway_stage_rows_total', { job: 'b' })).toHaveLength(0);
    expect(valueOf(families, 'tideway_stage_rows_total', { job: 'a', stage: 'say "hi"\\', direction: 'in' })).toBe(12);
    expect(text).not.toContain('NaN');
  });

  it('answers 404 beside /metrics and refuses a port in use with the listen error', async () => {
    const feed = new RunMetricsFeed('x');
    const url = await serve(feed);
    const other = await fetch(url.replace('/metrics', '/'));
    expect(other.status).toBe(404);
    const port = Number(new URL(url).port);
    await expect(startMetricsServer(port, feed, { host: '127.0.0.1' })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});

/** Progress as a transform without dirty-data counting would report it too (the cast admits the stage without rowsErrored). */
function syntheticProgress(): JobProgress {
  return {
    job: 'a',
    elapsedMs: 1000,
    rowsRead: 500,
    rowsWritten: 480,
    bytesWritten: 9000,
    checkpoints: 2,
    sources: [
      { name: 'files', type: 'file', rowsRead: 200, bytesRead: 5000, splitsDone: 1, splitsAssigned: 2, splitsTotal: 4, rowsTotal: 1000, rowsReadEarlier: 300 },
      { name: 'stream', type: 'fake', rowsRead: 300, bytesRead: 6000, splitsDone: 0, splitsAssigned: 1, splitsTotal: null, rowsTotal: null },
    ],
    transforms: [
      { name: 'parse', type: 'select', rowsIn: 500, rowsOut: 493, rowsFiltered: 0, rowsErrored: 7 },
      { name: 'old', type: 'filter', rowsIn: 12, rowsOut: 12, rowsFiltered: 0, rowsErrored: 0 },
      { name: 'say "hi"\\', type: 'filter', rowsIn: 12, rowsOut: 12, rowsFiltered: 0 },
    ],
    sinks: [{ name: 'db', type: 'postgres', rowsWritten: 480, bytesWritten: 9000, rowsRejected: 0, rowsLate: 0, rowsErrored: 3 }],
    pipelines: [],
    lastCheckpointAt: null,
  } as unknown as JobProgress;
}
