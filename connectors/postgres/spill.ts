import { close, closeSync, fsync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { syncDirectory } from '../../src/api/durable-fs.js';

/**
 * The bytes of one writer's COPY for one checkpoint, kept on local disk beside the job's checkpoints. In the
 * direct commit (see sink.ts) the writer sends the same bytes to the target inside a transaction it commits
 * itself once the checkpoint is saved; the spill is what the committer replays when that transaction did not
 * commit (the writer's process died first). A spill is sealed (written, fsynced, its directory entry
 * fsynced) before prepareCommit returns, so a saved checkpoint never names a spill that a crash can lose.
 */
export class SpillFile {
  private fd: number | undefined;
  bytes = 0;

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  /** Creates (or replaces) the file `name` in `dir`, making the directory when missing. */
  static create(dir: string, name: string): SpillFile {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, name);
    return new SpillFile(path, openSync(path, 'w'));
  }

  /** Appends to the page cache: a write of what was just encoded costs a memory copy, not a disk wait. */
  write(bytes: Uint8Array): void {
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(this.fd!, bytes, offset, bytes.length - offset);
    this.bytes += bytes.length;
  }

  /** Makes the file and its name durable. */
  async seal(): Promise<void> {
    const fd = this.fd!;
    this.fd = undefined;
    try {
      await promisify(fsync)(fd);
    } finally {
      await promisify(close)(fd);
    }
    await syncDirectory(join(this.path, '..'));
  }

  /** Closes and removes a spill that no checkpoint will name. */
  discard(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}

export const SPILL_SUFFIX = '.copy';

/** Names of the spills in `dir` whose name starts with `prefix` (none when the directory does not exist). */
export async function listSpills(dir: string, prefix: string): Promise<string[]> {
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  return names.filter((n) => n.startsWith(prefix) && n.endsWith(SPILL_SUFFIX)).sort();
}

export async function removeSpill(path: string): Promise<void> {
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}
