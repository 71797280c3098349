import { describe, expect, it } from 'vitest';
import type { JobProgress } from '../../../src/engine/result.js';
import { runThroughput, ThroughputWindow } from '../../../src/server/throughput.js';

function progress(elapsedMs: number, rowsRead: number, rowsWritten: number, bytesWritten = rowsWritten * 10): JobProgress {
  return { job: 'j', elapsedMs, rowsRead, rowsWritten, bytesWritten, rowsErrored: 0, checkpoints: 0, sources: [], transforms: [], sinks: [], pipelines: [], lastCheckpointAt: null };
}

describe('throughput', () => {
  it('is null until two samples, then the rate over the last window only', () => {
    const window = new ThroughputWindow(10_000);
    expect(window.add(progress(0, 0, 0))).toBeNull();
    // 100 rows/s read for 20 s, then 1,000 rows/s.
    let last = null;
    for (let s = 1; s <= 20; s++) last = window.add(progress(s * 1000, s * 100, s * 50));
    expect(last).toEqual({ rowsReadPerSecond: 100, rowsWrittenPerSecond: 50, bytesWrittenPerSecond: 500 });
    for (let s = 21; s <= 35; s++) last = window.add(progress(s * 1000, 2000 + (s - 20) * 1000, 1000));
    // The window (25 s .. 35 s) holds only the fast part; nothing was committed in it.
    expect(last).toEqual({ rowsReadPerSecond: 1000, rowsWrittenPerSecond: 0, bytesWrittenPerSecond: 0 });
  });

  it('averages a whole run', () => {
    expect(runThroughput(progress(4000, 2000, 1000))).toEqual({ rowsReadPerSecond: 500, rowsWrittenPerSecond: 250, bytesWrittenPerSecond: 2500 });
    expect(runThroughput(progress(0, 0, 0))).toBeNull();
  });
});
