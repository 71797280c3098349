import type { JobProgress } from '../engine/result.js';

/** Rows and bytes per second. */
export interface Throughput {
  rowsReadPerSecond: number;
  /** Rows committed per second: it moves at each checkpoint, so a window shorter than the interval shows bursts. */
  rowsWrittenPerSecond: number;
  bytesWrittenPerSecond: number;
}

interface Sample {
  atMs: number;
  rowsRead: number;
  rowsWritten: number;
  bytesWritten: number;
}

/** The rates over the last `windowMs` of progress samples of one run (the run's `elapsedMs` is the clock). */
export class ThroughputWindow {
  private samples: Sample[] = [];

  constructor(private readonly windowMs = 10_000) {}

  add(progress: JobProgress): Throughput | null {
    const sample = { atMs: progress.elapsedMs, rowsRead: progress.rowsRead, rowsWritten: progress.rowsWritten, bytesWritten: progress.bytesWritten };
    this.samples.push(sample);
    // Keep one sample at or before the window's start, so the window is covered whole.
    while (this.samples.length > 2 && this.samples[1]!.atMs <= sample.atMs - this.windowMs) this.samples.shift();
    return rate(this.samples[0]!, sample);
  }
}

/** The average over a whole run, for a run that has ended. */
export function runThroughput(progress: JobProgress): Throughput | null {
  return rate({ atMs: 0, rowsRead: 0, rowsWritten: 0, bytesWritten: 0 }, { atMs: progress.elapsedMs, rowsRead: progress.rowsRead, rowsWritten: progress.rowsWritten, bytesWritten: progress.bytesWritten });
}

function rate(from: Sample, to: Sample): Throughput | null {
  const seconds = (to.atMs - from.atMs) / 1000;
  if (seconds <= 0) return null;
  const per = (a: number, b: number) => Math.max(0, Math.round((b - a) / seconds));
  return { rowsReadPerSecond: per(from.rowsRead, to.rowsRead), rowsWrittenPerSecond: per(from.rowsWritten, to.rowsWritten), bytesWrittenPerSecond: per(from.bytesWritten, to.bytesWritten) };
}
