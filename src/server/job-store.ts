import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDirectory, syncDirectory } from '../api/durable-fs.js';
import { TidewayError } from '../api/errors.js';
import type { JobSpec } from './job-spec.js';

/** Job ids are made by the server: only these characters, so an id never names a path outside the state directory. */
export const JOB_ID = /^j-[a-z0-9]{6,16}-[a-f0-9]{6}$/;

export function newJobId(): string {
  return `j-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/**
 * Job records and specs under `<stateDir>/jobs/<id>/`: `record.json` (the job's state) and `spec.json` (its YAML
 * and variables, readable by the owner only: variables may hold secrets). Each write goes to a temporary file
 * that is synced and renamed over the old one, so a crash leaves either the old or the new file, never half.
 */
export class JobStore {
  private readonly jobsDir: string;

  constructor(readonly stateDir: string) {
    this.jobsDir = join(stateDir, 'jobs');
  }

  async open(): Promise<void> {
    await ensureDirectory(this.jobsDir, { option: '--state-dir' });
  }

  async writeSpec(id: string, spec: JobSpec): Promise<void> {
    await this.write(id, 'spec.json', spec);
  }

  async writeRecord(id: string, record: unknown): Promise<void> {
    await this.write(id, 'record.json', record);
  }

  /** Removes a job's folder (its record and spec). */
  async remove(id: string): Promise<void> {
    await rm(join(this.jobsDir, id), { recursive: true, force: true, maxRetries: 2 });
  }

  async readSpec(id: string): Promise<JobSpec> {
    return JSON.parse(await readFile(this.path(id, 'spec.json'), 'utf8')) as JobSpec;
  }

  /** Every stored job with a readable record; a job folder without one (a crash during submission) is skipped. */
  async readAll<R>(): Promise<{ id: string; record: R }[]> {
    const ids = (await readdir(this.jobsDir)).filter((name) => JOB_ID.test(name)).sort();
    const found: { id: string; record: R }[] = [];
    for (const id of ids) {
      try {
        found.push({ id, record: JSON.parse(await readFile(this.path(id, 'record.json'), 'utf8')) as R });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw new TidewayError('SERVER_STATE_DAMAGED', `the job record ${this.path(id, 'record.json')} cannot be read (${(error as Error).message}); move that job's folder out of the state directory to start without it`, { cause: error });
      }
    }
    return found;
  }

  private path(id: string, file: string): string {
    if (!JOB_ID.test(id)) throw new TidewayError('JOB_ID_INVALID', `not a job id: ${JSON.stringify(id)}`);
    return join(this.jobsDir, id, file);
  }

  private async write(id: string, file: string, value: unknown): Promise<void> {
    const target = this.path(id, file);
    const dir = join(this.jobsDir, id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const temp = join(dir, `.${file}.${randomBytes(4).toString('hex')}.tmp`);
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(value, null, 2)}\n`);
      await handle.sync();
    } catch (error) {
      await handle.close();
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    await handle.close();
    await rename(temp, target);
    await syncDirectory(dir);
  }
}
