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
import { type DataSaveMode, type FileWriterState, ledgerRows, type OutputLedger, readLedger, targetHasOutput, writeLedger } from './output-ledger.js';

export interface FileSinkOptions extends FormatOptions {
  path: string;
  file_prefix: string;
  max_file_size: number;
  data_save_mode: DataSaveMode;
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

  async createWriter(context: SinkWriterContext, restored: Json | undefined): Promise<SinkWriter<FileCommitInfo>> {
    const run = isWriterState(restored) ? restored.run : context.attemptId;
    return new FileWriter(this.options, this.root, join(this.stagingRoot(context.jobName), context.attemptId), context, run);
  }

  async createCommitter(context: SinkContext): Promise<SinkCommitter<FileCommitInfo>> {
    return new FileCommitter(this.root, this.stagingRoot(context.jobName), this.options.data_save_mode, context);
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

  /** Resolves once the target is known to take this run's output (data_save_mode: error checks here). */
  private allowed: Promise<void> | undefined;

  constructor(
    private readonly options: FileSinkOptions,
    private readonly root: string,
    private readonly staging: string,
    private readonly context: SinkWriterContext,
    private readonly run: string,
  ) {}

  /**
   * data_save_mode: error refuses a target holding output an earlier run of this job committed, before this
   * run's first file and before any checkpoint of it, so that nothing of it becomes visible. A writer of the
   * run the ledger records (resumed with its state, or added to a resumed run the committer adopted) passes.
   */
  private guard(): Promise<void> {
    this.allowed ??= (async () => {
      if (this.options.data_save_mode !== 'error') return;
      const ledger = await readLedger(this.root, this.context.jobName);
      if (!ledger || ledger.files.length === 0 || ledger.run === this.run || ledger.attempts.includes(this.context.attemptId)) return;
      throw targetHasOutput(this.root, ledger);
    })();
    return this.allowed;
  }

  private async openFile(schema: Schema): Promise<OpenFile> {
    await this.guard();
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
    await this.guard();
    await this.finishFile();
    const infos = this.ready;
    this.ready = [];
    return infos;
  }

  /**
   * Writer 0 carries the run's id into the checkpoint (the committer reads it to tell a resume from a new run).
   * The others keep no state, so that a job may resume with fewer writers.
   */
  snapshotState(): FileWriterState | undefined {
    return this.context.writerIndex === 0 ? { run: this.run } : undefined;
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
  /** The ledger as this committer last wrote or read it; undefined until the first commit. */
  private ledger: OutputLedger | undefined;

  constructor(
    private readonly root: string,
    private readonly stagingRoot: string,
    private readonly mode: DataSaveMode,
    private readonly context: SinkContext,
  ) {}

  async commit(infos: readonly FileCommitInfo[], context: CommitContext): Promise<void> {
    const ledger = this.ledger ?? (await this.startRun(context));
    const known = new Set(ledger.files.map((f) => f.name));
    const added = infos.filter((info) => !known.has(info.final));
    if (added.length > 0 || (context.endOfInput && !ledger.complete)) {
      // Recorded before the renames: a file listed but never moved is a no-op for overwrite; a moved file that
      // is not listed would be invisible to it.
      for (const info of added) ledger.files.push({ name: info.final, rows: info.rows });
      ledger.complete ||= context.endOfInput;
      await writeLedger(this.root, ledger);
    }
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
            `checkpoint ${context.checkpointId} owns ${info.final} (${info.rows} rows), but neither the staged file ${staged} nor the final file exists: ` +
              `something outside Tideway moved or deleted it after it was staged. Look for it (a clean-up script, a sync tool, a restored backup) and put it back at either path, ` +
              `then run the job again to resume. If it is gone for good, those rows are missing from the output; rewriting the whole output once takes --fresh with data_save_mode: overwrite`,
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

  /**
   * The first commit of this committer: continues the run the ledger records (a resume: the writers' states
   * carry its id), or starts a new one and applies data_save_mode to what earlier runs of the job committed.
   */
  private async startRun(context: CommitContext): Promise<OutputLedger> {
    const job = this.context.jobName;
    const attempt = this.context.attemptId;
    const run = context.writerStates.find(isWriterState)?.run ?? attempt;
    const previous = await readLedger(this.root, job);
    let ledger: OutputLedger;
    if (previous && (previous.run === run || previous.attempts.includes(attempt))) {
      ledger = previous.attempts.includes(attempt) ? previous : { ...previous, attempts: [...previous.attempts, attempt] };
    } else {
      ledger = { job, run, attempts: [attempt], files: [], complete: false };
      if (previous && previous.files.length > 0) {
        if (this.mode === 'error') throw targetHasOutput(this.root, previous);
        if (this.mode === 'overwrite') {
          for (const file of previous.files) await unlink(join(this.root, file.name)).catch((error: unknown) => {
            if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw wrap(error, `could not remove ${join(this.root, file.name)}, which an earlier run of job "${job}" committed (data_save_mode: overwrite)`);
          });
          await syncDirectory(this.root);
          this.context.logger.info(`data_save_mode overwrite: removed ${previous.files.length} file(s) with ${ledgerRows(previous)} rows that an earlier run of job "${job}" committed in ${this.root}`, { sink: this.context.sinkName });
        } else {
          ledger.files = previous.files;
          this.context.logger.info(`data_save_mode append: ${this.root} keeps ${previous.files.length} file(s) with ${ledgerRows(previous)} rows that an earlier run of job "${job}" committed; this run adds its own next to them`, { sink: this.context.sinkName });
        }
      }
    }
    if (ledger !== previous) await writeLedger(this.root, ledger);
    this.ledger = ledger;
    return ledger;
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

function isWriterState(value: unknown): value is FileWriterState {
  return typeof value === 'object' && value !== null && typeof (value as { run?: unknown }).run === 'string';
}
