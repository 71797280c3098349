import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { RecordBatch, Schema } from 'apache-arrow';
import { TidewayError } from '../../src/api/errors.js';
import type { Json } from '../../src/api/json.js';
import type { CommitContext, OrphanReport, Sink, SinkCommitter, SinkContext, SinkWriter, SinkWriterContext } from '../../src/api/sink.js';
import { createEncoder, type Encoder } from '../../src/formats/encoder.js';
import type { FormatOptions } from '../../src/formats/options.js';
import { checkDirectory, ensureDirectory, syncDirectory } from '../../src/api/durable-fs.js';

export interface FileSinkOptions extends FormatOptions {
  path: string;
  file_prefix: string;
  max_file_size: number;
}

/** One staged file, handed to the committer: paths are relative to the sink's `path`. */
export interface FileCommitInfo {
  staged: string;
  final: string;
  rows: number;
  bytes: number;
  [key: string]: Json;
}

export const STAGING_DIR = '.tideway-staging';

/**
 * Exactly-once files. Writers write into `<path>/.tideway-staging/<job>/<attempt>/`, and at each checkpoint
 * close their files (fsynced) and hand them over; the committer renames them into `<path>` once the
 * checkpoint is complete, checking every rename. A restore renames again what its checkpoint owns (a file
 * already in place is a no-op) and deletes every other staged file of the job.
 */
export class FileSink implements Sink<FileCommitInfo> {
  private readonly root: string;

  constructor(
    private readonly options: FileSinkOptions,
    baseDir: string,
  ) {
    this.root = resolve(baseDir, options.path);
  }

  private stagingRoot(job: string): string {
    return join(this.root, STAGING_DIR, job);
  }

  /** The path is a directory (or can become one) and files can really be created there (a probe is created and removed). */
  async check(context: SinkContext): Promise<void> {
    await checkDirectory(this.root, { option: optionName(context), context: { connector: 'file' } });
  }

  async prepare(context: SinkContext): Promise<undefined> {
    await ensureDirectory(this.root, { option: optionName(context), context: { connector: 'file' } });
    return undefined;
  }

  async createWriter(context: SinkWriterContext): Promise<SinkWriter<FileCommitInfo>> {
    return new FileWriter(this.options, this.root, join(this.stagingRoot(context.jobName), context.attemptId), context);
  }

  async createCommitter(context: SinkContext): Promise<SinkCommitter<FileCommitInfo>> {
    return new FileCommitter(this.root, this.stagingRoot(context.jobName));
  }
}

interface OpenFile {
  name: string;
  handle: FileHandle;
  encoder: Encoder;
}

class FileWriter implements SinkWriter<FileCommitInfo> {
  private current: OpenFile | undefined;
  private ready: FileCommitInfo[] = [];
  private sequence = 0;
  private readonly tag = randomBytes(2).toString('hex');
  readonly stats = { rowsWritten: 0, bytesWritten: 0 };

  constructor(
    private readonly options: FileSinkOptions,
    private readonly root: string,
    private readonly staging: string,
    private readonly context: SinkWriterContext,
  ) {}

  private async openFile(schema: Schema): Promise<OpenFile> {
    await mkdir(this.staging, { recursive: true });
    const encoder = createEncoder(this.options.format, schema, { ...this.options, name: this.staging });
    const name = `${this.options.file_prefix}-${this.context.attemptId}-${this.tag}-w${this.context.writerIndex}-${String(this.sequence++).padStart(5, '0')}${encoder.extension}`;
    const handle = await open(join(this.staging, name), 'w');
    return { name, handle, encoder };
  }

  async write(batch: RecordBatch): Promise<void> {
    this.current ??= await this.openFile(batch.schema);
    const { encoder, handle } = this.current;
    await writeAll(handle, encoder.encode(batch));
    this.stats.rowsWritten += batch.numRows;
    if (encoder.bytesOut + encoder.bufferedBytes >= this.options.max_file_size) await this.finishFile();
  }

  /** Writes the file's footer, fsyncs and closes it, and queues it for the next commit. */
  private async finishFile(): Promise<void> {
    const file = this.current;
    if (!file) return;
    this.current = undefined;
    try {
      await writeAll(file.handle, file.encoder.finish());
      await file.handle.sync();
    } finally {
      await file.handle.close();
    }
    this.stats.bytesWritten += file.encoder.bytesOut;
    this.ready.push({
      staged: relative(this.root, join(this.staging, file.name)),
      final: file.name,
      rows: file.encoder.rowsIn,
      bytes: file.encoder.bytesOut,
    });
  }

  async prepareCommit(): Promise<FileCommitInfo[]> {
    await this.finishFile();
    const infos = this.ready;
    this.ready = [];
    return infos;
  }

  snapshotState(): undefined {
    return undefined;
  }

  async abortPrepare(): Promise<void> {
    await this.discardCurrent();
    for (const info of this.ready) await unlink(join(this.root, info.staged)).catch(() => undefined);
    this.ready = [];
  }

  private async discardCurrent(): Promise<void> {
    const file = this.current;
    if (!file) return;
    this.current = undefined;
    await file.handle.close().catch(() => undefined);
    await unlink(join(this.staging, file.name)).catch(() => undefined);
  }

  async close(): Promise<void> {
    // Whatever was not handed to a checkpoint is not owned by one: it must not linger as a half file.
    await this.discardCurrent();
  }
}

async function writeAll(handle: FileHandle, chunks: Uint8Array[]): Promise<void> {
  if (chunks.length === 0) return;
  await handle.writev(chunks);
}

class FileCommitter implements SinkCommitter<FileCommitInfo> {
  constructor(
    private readonly root: string,
    private readonly stagingRoot: string,
  ) {}

  async commit(infos: readonly FileCommitInfo[], context: CommitContext): Promise<void> {
    for (const info of infos) {
      const staged = join(this.root, info.staged);
      const final = join(this.root, info.final);
      try {
        await rename(staged, final);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw wrap(error, `could not move ${staged} to ${final}`);
        if (!(await exists(final))) {
          throw new TidewayError(
            'FILE_COMMIT_LOST',
            `checkpoint ${context.checkpointId} owns ${info.final}, but neither the staged file ${staged} nor the final file exists; the output directory was changed outside Tideway. Run the job again with --fresh to rewrite it`,
            { context: { connector: 'file', path: final } },
          );
        }
      }
      const size = (await stat(final)).size;
      if (size !== info.bytes) {
        throw new TidewayError('FILE_COMMIT_CORRUPT', `${final} has ${size} bytes after commit, expected ${info.bytes}`, { context: { connector: 'file', path: final } });
      }
    }
    if (infos.length > 0) await syncDirectory(this.root);
    if (context.endOfInput) await removeEmptyDirs(this.stagingRoot, join(this.root, STAGING_DIR));
  }

  async abort(infos: readonly FileCommitInfo[]): Promise<void> {
    for (const info of infos) await unlink(join(this.root, info.staged)).catch(() => undefined);
  }

  async removeOrphans({ keep, dryRun }: { keep: readonly FileCommitInfo[]; dryRun: boolean }): Promise<OrphanReport> {
    const owned = new Set(keep.map((k) => join(this.root, k.staged)));
    const removed: string[] = [];
    for (const file of await listFiles(this.stagingRoot)) {
      if (owned.has(file)) continue;
      removed.push(file);
      if (!dryRun) await unlink(file).catch(() => undefined);
    }
    if (!dryRun) await removeEmptyDirs(this.stagingRoot, join(this.root, STAGING_DIR));
    return { removed };
  }

  async close(): Promise<void> {}
}

async function listFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const out: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path)));
    else out.push(path);
  }
  return out;
}

/** Removes empty directories under `dir`, then `dir` and its parents up to `stop`, never above it. */
async function removeEmptyDirs(dir: string, stop: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return;
  for (const entry of entries) if (entry.isDirectory()) await removeEmptyDirs(join(dir, entry.name), dir);
  let current = dir;
  while (current.startsWith(stop + sep) || current === stop) {
    try {
      await rmdir(current);
    } catch {
      return;
    }
    if (current === stop) return;
    current = dirname(current);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}


function wrap(error: unknown, message: string): TidewayError {
  return new TidewayError('FILE_IO', `${message}: ${(error as Error).message}`, { cause: error, context: { connector: 'file' } });
}

/** How errors name the option: `sink "out" path`. */
function optionName(context: Pick<SinkContext, 'sinkName'>): string {
  return `sink "${context.sinkName}" path`;
}
