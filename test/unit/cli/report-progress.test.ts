import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress, Rates } from '../../../src/cli/progress.js';
import { humanReport, jsonReport } from '../../../src/cli/report.js';
import type { JobProgress, JobResult } from '../../../src/engine/result.js';

function progress(over: Partial<JobProgress> = {}): JobProgress {
  return {
    job: 'fan-out',
    elapsedMs: 1000,
    rowsRead: 50_000,
    rowsWritten: 100_000,
    bytesWritten: 4_000_000,
    rowsErrored: 0,
    checkpoints: 1,
    sources: [{ name: 'fake', type: 'fake', rowsRead: 50_000, bytesRead: 1, splitsDone: 4, splitsAssigned: 4, splitsTotal: 4, rowsTotal: 50_000 }],
    transforms: [{ name: 'filter', type: 'filter', rowsIn: 50_000, rowsOut: 50_000, rowsFiltered: 0, rowsErrored: 0 }],
    sinks: [
      { name: 'a', type: 'file', rowsWritten: 50_000, bytesWritten: 3_000_000, rowsRejected: 0, rowsLate: 0, rowsErrored: 0 },
      { name: 'b', type: 'blackhole', rowsWritten: 50_000, bytesWritten: 1_000_000, rowsRejected: 0, rowsLate: 0, rowsErrored: 0 },
    ],
    pipelines: [],
    lastCheckpointAt: null,
    ...over,
  };
}

function result(over: Partial<JobResult> = {}): JobResult {
  return { ...progress(), status: 'finished', startedAt: 'x', endedAt: 'y', durationMs: 1000, resumedFromCheckpoint: null, error: null, ...over };
}

describe('--json report', () => {
  it('counts rows fanned out to two sinks once at the top, and per sink below', () => {
    const report = jsonReport(result());
    expect(report.rowsWritten).toBe(50_000);
    expect(report.sinks.map((s) => [s.name, s.rowsWritten])).toEqual([
      ['a', 50_000],
      ['b', 50_000],
    ]);
  });

  it('the top-level figure is the least any sink committed', () => {
    const r = result();
    r.sinks[1]!.rowsWritten = 20_000;
    expect(jsonReport(r).rowsWritten).toBe(20_000);
  });

  it('carries each transform\'s counts, filtered rows included', () => {
    const r = result({ transforms: [{ name: 'keep-big', type: 'filter', rowsIn: 50_000, rowsOut: 12_000, rowsFiltered: 38_000, rowsErrored: 0 }] });
    expect(jsonReport(r).transforms).toEqual([{ name: 'keep-big', type: 'filter', rowsIn: 50_000, rowsOut: 12_000, rowsFiltered: 38_000, rowsErrored: 0 }]);
    expect(humanReport(r)).toMatch(/transform +keep-big \(filter\): 50,000 in, 12,000 out, 38,000 filtered/);
  });
});

describe('progress display', () => {
  it('the written rate is not 0 B/s between the steps in which sinks count bytes', () => {
    const rates = new Rates();
    rates.sample(progress({ elapsedMs: 1000, bytesWritten: 0 }));
    rates.sample(progress({ elapsedMs: 2000, bytesWritten: 8_000_000 }));
    rates.sample(progress({ elapsedMs: 3000, bytesWritten: 8_000_000 }));
    expect(rates.bytesPerSecond).toBeCloseTo(8_000_000 / 3, 0);
  });

  it('a finished resumed run ends at 100%, not at the share this run read', async () => {
    const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 160, rows: 40 });
    let out = '';
    stream.on('data', (d: Buffer) => (out += d.toString()));
    const display = createProgress('bars', stream as unknown as NodeJS.WriteStream);
    // This run read 31% of the table; earlier runs read the rest.
    const partial = progress({ sources: [{ name: 'fake', type: 'fake', rowsRead: 15_500, bytesRead: 1, splitsDone: 1, splitsAssigned: 1, splitsTotal: 4, rowsTotal: 50_000 }] });
    display.update(partial);
    display.finish({ ...result(), ...partial, resumedFromCheckpoint: 3 });
    await new Promise((r) => setImmediate(r));
    const last = out.split(/\r|\n/).filter((l) => l.includes('fake')).at(-1) ?? '';
    expect(last).toMatch(/100%/);
  });

  it('counts rows earlier runs read when the engine reports them', async () => {
    const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 160, rows: 40 });
    let out = '';
    stream.on('data', (d: Buffer) => (out += d.toString()));
    const display = createProgress('bars', stream as unknown as NodeJS.WriteStream);
    display.update(progress({ sources: [{ name: 'fake', type: 'fake', rowsRead: 10_000, rowsReadEarlier: 30_000, bytesRead: 1, splitsDone: 1, splitsAssigned: 1, splitsTotal: 4, rowsTotal: 50_000 }] }));
    display.stop();
    await new Promise((r) => setImmediate(r));
    expect(out).toMatch(/ 80%/);
  });
});
