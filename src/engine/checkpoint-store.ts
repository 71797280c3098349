import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TidewayError } from '../api/errors.js';
import type { Json } from '../api/json.js';
import type { ReaderSnapshot, SourceSplit } from '../api/source.js';
import { syncDirectory } from '../api/durable-fs.js';

/** Everything needed to resume a job exactly where a completed checkpoint left it. */
export interface CheckpointData {
  format: 'tideway-checkpoint';
  version: 1;
  job: string;
  checkpointId: number;
  attemptId: string;
  createdAt: string;
  /** Taken after bounded input ended: the job's output is complete once this commits. */
  endOfInput: boolean;
  sources: SourceCheckpoint[];
  sinks: SinkCheckpoint[];
}

export interface SourceCheckpoint {
  name: string;
  enumerator: Json;
  /** Splits the engine assigned in this run before the enumerator snapshot. */
  assigned: SourceSplit[];
  /** Split ids consumed by earlier runs (those the current readers report are in `readers`). */
  consumed: string[];
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
  /** The newest checkpoint that was written completely and verifies, if any. */
  latest(): Promise<CheckpointData | undefined>;
  save(data: CheckpointData): Promise<void>;
  /** Keeps the newest `keep` checkpoints. */
  retain(keep: number): Promise<void>;
  /** Removes every checkpoint: the job finished or is started fresh. */
  clear(): Promise<void>;
  /** Prevents two runs of the same job at once; the returned function releases the lock. */
  lock(): Promise<() => Promise<void>>;
  readonly location: string;
}

const FILE = /^chk-(\d{10})\.json$/;

/**
 * Checkpoints as JSON files in `<dir>/<job>/`: written to a temporary file, fsynced, renamed, and the
 * directory fsynced. Each file carries a SHA-256 of its content, so a torn or corrupted file is never
 * taken as the latest.
 */
export class LocalCheckpointStore implements CheckpointStore {
  readonly location: string;

  constructor(dir: string, job: string) {
    this.location = join(dir, job);
  }

  async latest(): Promise<CheckpointData | undefined> {
    for (const name of await this.files()) {
      const data = await this.read(name);
      if (data) return data;
    }
    return undefined;
  }

  private async read(name: string): Promise<CheckpointData | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.location, name), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const envelope = JSON.parse(text) as { sha256?: string; data?: CheckpointData };
      if (!envelope.data || typeof envelope.sha256 !== 'string') return undefined;
      if (digest(JSON.stringify(envelope.data)) !== envelope.sha256) return undefined;
      if (envelope.data.format !== 'tideway-checkpoint' || envelope.data.version !== 1) return undefined;
      return envelope.data;
    } catch {
      return undefined;
    }
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
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(path, `${process.pid}\n`, { flag: 'wx' });
        return async () => {
          await rm(path, { force: true });
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
        // The lock outlived its process (a crash): take it over.
        await rm(path, { force: true });
      }
    }
    throw new TidewayError('JOB_LOCK_FAILED', `could not take the job lock ${path}`, { context: { path } });
  }
}

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
