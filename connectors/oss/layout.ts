/**
 * Where the OSS sink puts things under its prefix, in one place:
 *
 * ```
 * <prefix>/dt=2026-11-22/hour=03/region=eu/part-<job>-<attempt>-w<writer>-c<checkpoint>-<seq>.parquet
 * <prefix>/dt=2026-11-22/hour=03/_SUCCESS                  the time slice is complete
 * <prefix>/_late/dt=2026-11-22/hour=03/region=eu/part-...  rows that arrived after their slice completed
 * <prefix>/_tideway/jobs/<job>.json                        this job owns the prefix
 * <prefix>/_tideway/partitions/<job>.json                  time slices with data and no marker yet
 * ```
 *
 * Data object names are deterministic per job, attempt, writer, checkpoint and sequence, and say which
 * job wrote them, so orphans can be told apart from another job's uploads.
 */

export const TIDEWAY_DIR = '_tideway/';
export const LATE_DIR = '_late/';
export const MARKER_NAME = '_SUCCESS';

export function jobRecordKey(prefix: string, job: string): string {
  return `${prefix}${TIDEWAY_DIR}jobs/${job}.json`;
}

export function partitionStateKey(prefix: string, job: string): string {
  return `${prefix}${TIDEWAY_DIR}partitions/${job}.json`;
}

export function markerKey(prefix: string, slicePath: string): string {
  return `${prefix}${slicePath}${MARKER_NAME}`;
}

/** The attempt id with only letters and digits, so that `-` separates the name's fields unambiguously. */
export function attemptTag(attemptId: string): string {
  return attemptId.replace(/[^A-Za-z0-9]/g, '') || 'x';
}

export interface DataFileName {
  job: string;
  attemptId: string;
  writer: number;
  checkpoint: number;
  sequence: number;
  extension: string;
}

export function dataFileName(name: DataFileName): string {
  return `part-${name.job}-${attemptTag(name.attemptId)}-w${name.writer}-c${name.checkpoint}-${String(name.sequence).padStart(5, '0')}${name.extension}`;
}

const AFTER_JOB = /^[A-Za-z0-9]+-w\d+-c\d+-\d+\./;

/** Whether the last segment of `key` is a data object `job` wrote (any attempt). */
export function isJobDataKey(job: string, key: string): boolean {
  const base = key.slice(key.lastIndexOf('/') + 1);
  const head = `part-${job}-`;
  return base.startsWith(head) && AFTER_JOB.test(base.slice(head.length));
}

/** Keys (relative to the prefix) a reader skips: any segment starting with `_` or `.` (Hive's rule). */
export function isHiddenKey(relative: string): boolean {
  return relative.split('/').some((segment) => segment.startsWith('_') || segment.startsWith('.'));
}
