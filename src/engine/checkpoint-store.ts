import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TidewayError } from '../api/errors.js';
import type { Json } from '../api/json.js';
import type { ReaderSnapshot, SourceSplit } from '../api/source.js';
import { syncDirectory } from '../api/durable-fs.js';

/** Everything needed to resume a job exactly where a completed checkpoint left it. */
export interface CheckpointData {
  format: 'tideway-checkpoint';
  /** 2: a consistent cut with a pruned ledger. 1 (read, never written): every consumed id kept. */
  version: 1 | 2;
  job: string;
  checkpointId: number;
  attemptId: string;
  createdAt: string;
  /** Taken after bounded input ended: the job's output is complete once this commits. */
  endOfInput: boolean;
  sources: SourceCheckpoint[];
  sinks: SinkCheckpoint[];
  /**
   * Rows in and rows rejected of each stage with a dirty-data policy, by stage key (`transform:<name>`),
   * over every run up to this checkpoint's barrier: the counts max_errors and max_error_ratio are judged on.
   */
  errors?: Record<string, { rowsIn: number; errors: number }>;
}

export interface SourceCheckpoint {
  name: string;
  /** The enumerator's state, taken together with `assigned` (the coordinator's side of the cut). */
  enumerator: Json;
  /** Splits assigned before the enumerator snapshot and not known done: in flight or held by a reader. */
  assigned: SourceSplit[];
  /** Version 1 only: split ids consumed by earlier runs. */
  consumed?: string[];
  /** Each reader at its barrier: held splits with offsets, and splits finished since the last checkpoint. */
  readers: ReaderSnapshot[];
}

export interface SinkCheckpoint {
  name: string;
  writerStates: (Json | null)[];
  /** Commit infos made visible (or to be made visible) when this checkpoint completes. */
  pending: Json[];
}

/** Where checkpoints live. A local directory by default; OSS or a database can implement the same. */
export interface CheckpointStore {
  /**
   * The newest checkpoint, if any. Throws CHECKPOINT_DAMAGED when the newest one does not verify: it may
   * have been committed, so falling back to an older one could write its rows twice.
   */
  latest(): Promise<CheckpointData | undefined>;
  save(data: CheckpointData): Promise<void>;
  /** Keeps the newest `keep` checkpoints. */
  retain(keep: number): Promise<void>;
  /** Removes every checkpoint: the job finished or is started fresh. */
  clear(): Promise<void>;
  /** Prevents two runs of the same job at once, in this process or another; the returned function releases it. */
  lock(): Promise<() => Promise<void>>;
  readonly location: string;
  /**
   * The fencing epoch of the holder of the lock, for stores whose lock has one (the cluster's JetStream store):
   * it grows with each holder, and a holder with an older one can no longer save. Undefined for a local store.
   */
  readonly epoch?: number;
}

const FILE = /^chk-(\d{10})\.json$/;

/**
 * Checkpoints as JSON files in `<dir>/<job>/`: written to a temporary file, fsynced, renamed, and the
 * directory fsynced. Each file carries a SHA-256 of its content, so a torn or corrupted file is never
 * taken as the latest.
 */
/** Where the sinks of a job keep local files (SinkContext.localDir) in one-machine runs: beside its checkpoints. */
export function sinksLocalRoot(checkpointDir: string, job: string): string {
  return join(resolve(checkpointDir), job, 'sinks');
}

/** One sink's directory under that root, named after the sink (made safe as a single path segment). */
export function sinkLocalDir(root: string, sinkName: string): string {
  return join(root, encodeURIComponent(sinkName).replace(/^\.+/, (dots) => '%2E'.repeat(dots.length)));
}

export class LocalCheckpointStore implements CheckpointStore {
  readonly location: string;

  constructor(dir: string, job: string) {
    this.location = join(dir, job);
  }

  async latest(): Promise<CheckpointData | undefined> {
    const [newest, previous] = await this.files();
    if (newest === undefined) return undefined;
    const read = await this.read(newest);
    if (read.data) return read.data;
    const path = join(this.location, newest);
    const older = previous === undefined ? 'there is no older checkpoint' : `the one before it is ${join(this.location, previous)}`;
    throw new TidewayError(
      'CHECKPOINT_DAMAGED',
      `the newest checkpoint ${path} is damaged (${read.problem}); ${older}. Checkpoints are written whole and renamed into place, ` +
        `so this file was changed after it was written. Its output may already be committed, so Tideway neither resumes from an ` +
        `older checkpoint nor starts over: either could write rows twice or skip some. Put back an intact copy of ${newest} if you ` +
        `have one; otherwise compare the sinks' output with the source and decide by hand, and only then move this job's checkpoint ` +
        `directory away (the next run then starts from the beginning and writes every row again).`,
      { context: { path } },
    );
  }

  private async read(name: string): Promise<{ data?: CheckpointData; problem: string }> {
    let text: string;
    try {
      text = await readFile(join(this.location, name), 'utf8');
    } catch (error) {
      return { problem: `cannot be read: ${(error as Error).message}` };
    }
    if (text.length === 0) return { problem: 'it is empty' };
    let envelope: { sha256?: unknown; data?: CheckpointData };
    try {
      envelope = JSON.parse(text) as typeof envelope;
    } catch {
      return { problem: `it is not complete JSON (${text.length} bytes)` };
    }
    if (!envelope.data || typeof envelope.sha256 !== 'string') return { problem: 'it has no checksum or no data' };
    if (digest(JSON.stringify(envelope.data)) !== envelope.sha256) return { problem: 'its SHA-256 does not match its content' };
    if (envelope.data.format !== 'tideway-checkpoint' || (envelope.data.version !== 1 && envelope.data.version !== 2)) {
      return { problem: `it is not a Tideway checkpoint of a version this Tideway reads (format ${String(envelope.data.format)}, version ${String(envelope.data.version)})` };
    }
    return { data: envelope.data, problem: '' };
  }

  /** Checkpoint file names, newest first. */
  private async files(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.location);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return names.filter((n) => FILE.test(n)).sort().reverse();
  }

  async save(data: CheckpointData): Promise<void> {
    await mkdir(this.location, { recursive: true });
    const body = JSON.stringify(data);
    const text = `{"sha256":"${digest(body)}","data":${body}}\n`;
    const name = `chk-${String(data.checkpointId).padStart(10, '0')}.json`;
    const temp = join(this.location, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, join(this.location, name));
    await syncDirectory(this.location);
  }

  async retain(keep: number): Promise<void> {
    const names = await this.files();
    for (const name of names.slice(keep)) await unlink(join(this.location, name)).catch(() => undefined);
    for (const name of await readdir(this.location).catch(() => [] as string[])) {
      if (name.endsWith('.tmp')) await unlink(join(this.location, name)).catch(() => undefined);
    }
  }

  async clear(): Promise<void> {
    for (const name of await readdir(this.location).catch(() => [] as string[])) {
      if (FILE.test(name) || name.endsWith('.tmp')) await unlink(join(this.location, name)).catch(() => undefined);
    }
  }

  async lock(): Promise<() => Promise<void>> {
    await mkdir(this.location, { recursive: true });
    const path = join(this.location, 'LOCK');
    if (locksHeldHere.has(path)) {
      throw new TidewayError(
        'JOB_ALREADY_RUNNING',
        `job is already running in this process (it holds ${path}); wait for that run to return, stop it through its signal, or give this job another env.name`,
        { context: { path } },
      );
    }
    locksHeldHere.add(path);
    try {
      return await this.takeFileLock(path);
    } catch (error) {
      locksHeldHere.delete(path);
      throw error;
    }
  }

  private async takeFileLock(path: string): Promise<() => Promise<void>> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(path, `${process.pid}\n`, { flag: 'wx' });
        return async () => {
          await rm(path, { force: true });
          locksHeldHere.delete(path);
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
        if (pid && pid !== process.pid && isAlive(pid)) {
          throw new TidewayError(
            'JOB_ALREADY_RUNNING',
            `job is already running (process ${pid} holds ${path}); wait for it to finish, stop it, or give this job another env.name`,
            { context: { path } },
          );
        }
        // The lock outlived its process (a crash), or is our own process's from a run that never released it
        // (not held here, as checked above): take it over.
        await rm(path, { force: true });
      }
    }
    throw new TidewayError('JOB_LOCK_FAILED', `could not take the job lock ${path}`, { context: { path } });
  }
}

/**
 * Lock files this process holds. A PID check alone cannot tell two runs in one process apart, so the
 * process keeps its own table: it is process-wide by nature, like the lock files themselves.
 */
const locksHeldHere = new Set<string>();

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}


function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
