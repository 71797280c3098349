import { type JobResult, type JobStatus, jobRowsWritten } from '../engine/result.js';
import { formatBytes, formatCount, formatDuration, perSecond } from './format.js';

/** The `--json` report: exactly these keys, one object on stdout. */
export interface JsonReport {
  job: string | null;
  status: JobStatus;
  /** Rows read by every source, summed. */
  rowsRead: number;
  /** Rows every sink committed: the smallest of `sinks[].rowsWritten` (never their sum; see jobRowsWritten). */
  rowsWritten: number;
  /** Rows rejected as dirty data by every transform and sink, summed (README, "Dirty data"). */
  rowsErrored: number;
  checkpoints: number;
  durationMs: number;
  resumedFromCheckpoint: number | null;
  sources: { name: string; type: string; rowsRead: number }[];
  /** Rows in, rows out, rows dropped (filtered) and rows rejected as dirty data (errored) by each transform. */
  transforms: { name: string; type: string; rowsIn: number; rowsOut: number; rowsFiltered: number; rowsErrored: number }[];
  /**
   * Rows each sink committed, its bytes, rows it refused or sent to a late-data location, and rows it rejected
   * as dirty data (errored). `deadLetter`: the sink holds rejected rows (a dead_letter block), not output.
   */
  sinks: { name: string; type: string; rowsWritten: number; bytesWritten: number; rowsRejected: number; rowsLate: number; rowsErrored: number; deadLetter: boolean }[];
  error: { code: string; message: string } | null;
}

export function jsonReport(result: JobResult): JsonReport {
  return {
    job: result.job,
    status: result.status,
    rowsRead: result.rowsRead,
    rowsWritten: jobRowsWritten(result.sinks),
    rowsErrored: result.rowsErrored,
    checkpoints: result.checkpoints,
    durationMs: result.durationMs,
    resumedFromCheckpoint: result.resumedFromCheckpoint,
    sources: result.sources.map((s) => ({ name: s.name, type: s.type, rowsRead: s.rowsRead })),
    transforms: result.transforms.map((t) => ({ name: t.name, type: t.type, rowsIn: t.rowsIn, rowsOut: t.rowsOut, rowsFiltered: t.rowsFiltered, rowsErrored: t.rowsErrored })),
    sinks: result.sinks.map((s) => ({
      name: s.name,
      type: s.type,
      rowsWritten: s.rowsWritten,
      bytesWritten: s.bytesWritten,
      rowsRejected: s.rowsRejected,
      rowsLate: s.rowsLate,
      rowsErrored: s.rowsErrored,
      deadLetter: s.deadLetter ?? false,
    })),
    error: result.error,
  };
}

/** The report for a job that never started (invalid configuration, unreadable file). */
export function jsonReportForError(job: string | null, error: { code: string; message: string }): JsonReport {
  return {
    job,
    status: 'failed',
    rowsRead: 0,
    rowsWritten: 0,
    rowsErrored: 0,
    checkpoints: 0,
    durationMs: 0,
    resumedFromCheckpoint: null,
    sources: [],
    transforms: [],
    sinks: [],
    error,
  };
}

const STATUS_WORD: Record<JobStatus, string> = { finished: 'finished', failed: 'FAILED', cancelled: 'cancelled (resume with the same command)' };

/** The human job report printed on stderr at the end of `tideway run`. */
export function humanReport(result: JobResult): string {
  const rows: [string, string][] = [];
  rows.push(['started', result.startedAt]);
  rows.push(['ended', result.endedAt]);
  rows.push(['resumed', result.resumedFromCheckpoint === null ? 'no (fresh start)' : `from checkpoint ${result.resumedFromCheckpoint}`]);
  for (const s of result.sources) {
    rows.push([`read`, `${formatCount(s.rowsRead)} rows, ${formatBytes(s.bytesRead)} from ${label(s)}`]);
  }
  for (const t of result.transforms) {
    rows.push(['transform', `${label(t)}: ${formatCount(t.rowsIn)} in, ${formatCount(t.rowsOut)} out, ${formatCount(t.rowsFiltered)} filtered${errored(t.rowsErrored)}`]);
  }
  for (const s of result.sinks) {
    const rejected = `${s.rowsRejected > 0 ? `, ${formatCount(s.rowsRejected)} rejected` : ''}${s.rowsLate > 0 ? `, ${formatCount(s.rowsLate)} late (kept in the late-data location)` : ''}${errored(s.rowsErrored)}`;
    if (s.deadLetter) rows.push(['dead letter', `${formatCount(s.rowsWritten)} bad rows, ${formatBytes(s.bytesWritten)} to ${label(s)}`]);
    else rows.push(['written', `${formatCount(s.rowsWritten)} rows, ${formatBytes(s.bytesWritten)} to ${label(s)}${rejected}`]);
  }
  if (result.rowsErrored > 0) rows.push(['errored', `${formatCount(result.rowsErrored)} bad rows rejected by the dirty-data policy (counted per stage above)`]);
  rows.push(['checkpoints', String(result.checkpoints)]);
  rows.push([
    'throughput',
    `${formatCount(perSecond(result.rowsRead, result.durationMs))} rows/s read, ${formatBytes(perSecond(result.bytesWritten, result.durationMs))}/s written`,
  ]);
  const width = Math.max(...rows.map(([k]) => k.length));
  const head = `job ${result.job} ${STATUS_WORD[result.status]} in ${formatDuration(result.durationMs)}`;
  return `${head}\n${rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n')}\n`;
}

function errored(rows: number): string {
  return rows > 0 ? `, ${formatCount(rows)} errored (dirty data)` : '';
}

function label(stage: { name: string; type: string }): string {
  return stage.name === stage.type ? stage.name : `${stage.name} (${stage.type})`;
}
