/**
 * Where the OSS sink puts things under its prefix, in one place:
 *
 * ```
 * <prefix>/dt=2026-11-22/hour=03/region=eu/part-<job>-<attempt>-w<writer>-c<checkpoint>-<seq>.parquet
 * <prefix>/dt=2026-11-22/hour=03/_SUCCESS                  the time slice is complete (the prefix's owner)
 * <prefix>/dt=2026-11-22/hour=03/_SUCCESS.<job>            the same, for a job sharing the prefix (allow_non_empty_target)
 * <prefix>/_late/dt=2026-11-22/hour=03/region=eu/part-...  rows that arrived after their slice completed
 * <prefix>/_tideway/owner.json                             the job that claimed the prefix for itself alone
 * <prefix>/_tideway/jobs/<job>.json                        this job writes under the prefix
 * <prefix>/_tideway/runs/<job>/<generation>.json           the run of the job that holds the lease
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

export function ownerKey(prefix: string): string {
  return `${prefix}${TIDEWAY_DIR}owner.json`;
}

export function runsPrefix(prefix: string, job: string): string {
  return `${prefix}${TIDEWAY_DIR}runs/${job}/`;
}

/** Generations are zero-padded so that listing order is numeric order. */
export function runKey(prefix: string, job: string, generation: number): string {
  return `${runsPrefix(prefix, job)}${String(generation).padStart(10, '0')}.json`;
}

/**
 * A slice's completion marker. The job that claimed the prefix alone writes `_SUCCESS`, the name Hive and
 * Spark look for; a job sharing the prefix (allow_non_empty_target) writes `_SUCCESS.<job>`, because it can
 * only speak for its own rows.
 */
export function markerName(job: string, shared: boolean): string {
  return shared ? `${MARKER_NAME}.${job}` : MARKER_NAME;
}

export function markerKey(prefix: string, slicePath: string, job: string, shared: boolean): string {
  return `${prefix}${slicePath}${markerName(job, shared)}`;
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

const AFTER_JOB = /^([A-Za-z0-9]+)-w\d+-c\d+-\d+\./;

/** Whether the last segment of `key` is a data object `job` wrote (any attempt). */
export function isJobDataKey(job: string, key: string): boolean {
  return attemptOfKey(job, key) !== undefined;
}

/** The attempt tag in the name of a data object `job` wrote, or undefined when `key` is not one. */
export function attemptOfKey(job: string, key: string): string | undefined {
  const base = key.slice(key.lastIndexOf('/') + 1);
  const head = `part-${job}-`;
  if (!base.startsWith(head)) return undefined;
  return AFTER_JOB.exec(base.slice(head.length))?.[1];
}

/** The longest data object name `dataFileName` gives for `job` (attempt tags of up to 24 characters, 9,999 writers, 10-digit checkpoints). */
export function maxDataFileNameBytes(job: string): number {
  return Buffer.byteLength(`part-${job}-`) + 24 + '-w9999-c9999999999-'.length + 7 + '.jsonl.gz'.length;
}

/** Keys (relative to the prefix) a reader skips: any segment starting with `_` or `.` (Hive's rule). */
export function isHiddenKey(relative: string): boolean {
  return relative.split('/').some((segment) => segment.startsWith('_') || segment.startsWith('.'));
}
