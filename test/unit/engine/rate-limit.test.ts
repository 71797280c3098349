import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import type { JobProgress } from '../../../src/engine/result.js';
import { type Clock, ReaderLimiter, ReadShares, TokenBucket } from '../../../src/engine/rate-limit.js';
import { type ConnectorDefinition, defineSink } from '../../../src/api/connector.js';
import { z } from '../../../src/api/options.js';
import { NoopCommitter } from '../../../src/api/simple-sink.js';
import type { Sink } from '../../../src/api/sink.js';
import { builtinConnectors, ConnectorRegistry, runJob } from '../../../src/index.js';
import { seededRandom } from '../../../src/testing/random.js';
import { createProgress } from '../../../src/cli/progress.js';
import { seeds, useTempDirs } from '../../helpers/jobs.js';

const dir = useTempDirs('tideway-limit-');

/** A clock whose time moves only when the code under test sleeps. */
class FakeClock implements Clock {
  time = 0;
  sleeps: number[] = [];
  now(): number {
    return this.time;
  }
  async sleep(ms: number, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    this.sleeps.push(ms);
    this.time += ms;
  }
}

describe('read limit: token bucket', () => {
  it('is in debt after a charge until the rate has repaid it', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(100, clock);
    bucket.charge(50);
    expect(bucket.delay()).toBeCloseTo(500);
    clock.time = 250;
    expect(bucket.delay()).toBeCloseTo(250);
    clock.time = 500;
    expect(bucket.delay()).toBe(0);
  });

  it('saves up at most a tenth of a second of its rate while idle', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(100, clock);
    clock.time = 60_000;
    bucket.charge(10);
    expect(bucket.delay()).toBe(0);
    bucket.charge(1);
    expect(bucket.delay()).toBeCloseTo(10);
  });
});

describe('read limit: a reader never gets more than its budget', () => {
  it.each(seeds(20))('seed %i: when a read starts, the rows and bytes read before it fit rate * elapsed + burst', async (seed) => {
    const random = seededRandom(seed);
    const clock = new FakeClock();
    const rows = 50 + Math.floor(random() * 5000);
    const bytes = 10_000 + Math.floor(random() * 1e6);
    const limiter = new ReaderLimiter({ rowsPerSecond: rows, bytesPerSecond: bytes }, 1, clock);
    const signal = new AbortController().signal;
    let readRows = 0;
    let readBytes = 0;
    let idle = 0;
    for (let chunk = 0; chunk < 300; chunk++) {
      // Idle gaps (waiting for splits) let the bucket save up, but never beyond its burst.
      if (random() < 0.1) {
        const gap = random() * 2000;
        clock.time += gap;
        idle += gap / 1000;
      }
      await limiter.ready(signal);
      const t = clock.now() / 1000;
      const where = `seed ${seed}, chunk ${chunk}, t=${t.toFixed(3)}s`;
      expect(readRows, where).toBeLessThanOrEqual(rows * t + rows * 0.1 + 1e-6);
      expect(readBytes, where).toBeLessThanOrEqual(bytes * t + bytes * 0.1 + 1e-6);
      const r = 1 + Math.floor(random() * rows * 0.5);
      const b = Math.floor(random() * bytes * 0.5);
      readRows += r;
      readBytes += b;
      limiter.charge(r, b);
    }
    // Never waits longer than needed: outside the idle gaps, the tighter limit's rate is reached.
    const busy = clock.now() / 1000 - idle;
    expect(Math.max(readRows / rows, readBytes / bytes)).toBeGreaterThan(busy * 0.9);
  });

  it('splits the job\'s limit among the readers and gives an ended reader\'s share back, never more', () => {
    const clock = new FakeClock();
    const limiter = new ReaderLimiter({ rowsPerSecond: 1200 }, 4, clock);
    expect(limiter.share.rowsPerSecond).toBe(300);
    limiter.setActiveReaders(3);
    expect(limiter.share.rowsPerSecond).toBe(400);
    // A late or repeated message with a larger count changes nothing.
    limiter.setActiveReaders(4);
    limiter.setActiveReaders(3);
    expect(limiter.share.rowsPerSecond).toBe(400);
    limiter.setActiveReaders(1);
    expect(limiter.share.rowsPerSecond).toBe(1200);
    expect(limiter.share.bytesPerSecond).toBeUndefined();
  });

  it('the coordinator counts each ended reader once', () => {
    const shares = new ReadShares(3);
    expect(shares.readerEnded(0)).toBe(2);
    expect(shares.readerEnded(0)).toBeUndefined();
    expect(shares.readerEnded(2)).toBe(1);
    expect(shares.readerEnded(1)).toBeUndefined();
  });

  it('a wait ends when the pipeline\'s signal aborts, without busy waiting', async () => {
    const limiter = new ReaderLimiter({ rowsPerSecond: 10 }, 1);
    limiter.charge(1000, 0);
    const controller = new AbortController();
    const waiting = limiter.ready(controller.signal);
    setTimeout(() => controller.abort(new Error('pipeline closed')), 30);
    await expect(waiting).rejects.toThrow();
  });
});

/** When each batch reached the sink and how many rows had arrived by then: the job's read rate, seen at the sink. */
function timedSink(): { connector: ConnectorDefinition; arrivals: { at: number; rows: number }[]; rate(fromMs: number, windowMs: number): number } {
  const arrivals: { at: number; rows: number }[] = [];
  let rows = 0;
  const connector: ConnectorDefinition = {
    name: 'test-timed',
    description: 'test sink: records when rows arrive',
    sink: defineSink({
      options: z.object({}).strict(),
      create: (): Sink => ({
        createWriter: async () => ({
          async write(batch) {
            rows += batch.numRows;
            arrivals.push({ at: performance.now(), rows });
          },
          prepareCommit: async () => [],
          snapshotState: () => undefined,
          abortPrepare: async () => undefined,
          close: async () => undefined,
        }),
        createCommitter: async () => new NoopCommitter(),
      }),
    }),
  };
  return {
    connector,
    arrivals,
    rate(fromMs, windowMs) {
      const start = arrivals[0]!.at + fromMs;
      const from = arrivals.find((a) => a.at >= start)!;
      const to = arrivals.find((a) => a.at >= from.at + windowMs);
      if (!to) throw new Error(`the job read for less than ${fromMs + windowMs} ms`);
      return ((to.rows - from.rows) * 1000) / (to.at - from.at);
    },
  };
}

describe('read limit: a job', () => {
  it('reads at the limit: rows over 5 seconds within 10% of rows_per_second, and the progress says it is limited', async () => {
    const limit = 2000;
    const timed = timedSink();
    const samples: JobProgress[] = [];
    const result = await runJob(
      {
        env: { name: `limited-${Date.now()}`, parallelism: 2, transport: 'in-process', checkpoint: { interval: '1s', dir: dir() }, read_limit: { rows_per_second: limit } },
        source: [{ type: 'fake', rows: 14_000, splits: 8, chunk_rows: 50 }],
        sink: [{ type: 'test-timed' }],
      },
      { registry: new ConnectorRegistry([...builtinConnectors, timed.connector]), logger: silentLogger, onProgress: (p) => samples.push(p), progressIntervalMs: 250 },
    );
    expect(result.status, result.error?.message).toBe('finished');
    expect(result.readLimit).toMatchObject({ rowsPerSecond: limit, bytesPerSecond: null });
    expect(result.readLimit!.throttledMs).toBeGreaterThan(0);
    // Five seconds after the first half second (both readers started), as the rows reach the sink.
    const rate = timed.rate(500, 5000);
    console.log(`read limit ${limit} rows/s: measured ${rate.toFixed(0)} rows/s over 5 s`);
    expect(rate).toBeGreaterThan(limit * 0.9);
    expect(rate).toBeLessThan(limit * 1.1);
    let printed = '';
    const display = createProgress('lines', { isTTY: false, write: (text: string) => ((printed += text), true) } as never, { lineIntervalMs: 0 });
    display.update(samples.at(-1)!);
    expect(printed).toMatch(/^progress: read [\d,]+ rows \| .* \| read limited to 2,000 rows\/s \| checkpoints/);
  }, 60_000);

  it('a reader with nothing to read gives its share back: one split, two readers, the one reading gets the whole limit', async () => {
    const limit = 2000;
    const timed = timedSink();
    const result = await runJob(
      {
        env: { name: `limited-one-${Date.now()}`, parallelism: 2, transport: 'in-process', checkpoint: { interval: '1s', dir: dir() }, read_limit: { rows_per_second: limit } },
        source: [{ type: 'fake', rows: 7000, splits: 1, chunk_rows: 50 }],
        sink: [{ type: 'test-timed' }],
      },
      { registry: new ConnectorRegistry([...builtinConnectors, timed.connector]), logger: silentLogger },
    );
    expect(result.status, result.error?.message).toBe('finished');
    const rate = timed.rate(500, 2500);
    console.log(`one reading reader of two, limit ${limit} rows/s: measured ${rate.toFixed(0)} rows/s`);
    // Without the share handed back it would read at half the limit.
    expect(rate).toBeGreaterThan(limit * 0.8);
    expect(rate).toBeLessThan(limit * 1.1);
  }, 60_000);
});
