import type { RecordBatch } from 'apache-arrow';
import { TidewayError } from '../../src/api/errors.js';
import type { Json } from '../../src/api/json.js';
import type { SinkWriter, SinkWriterContext } from '../../src/api/sink.js';
import { createEncoder } from '../../src/formats/encoder.js';
import type { OssClient } from './client.js';
import { dataFileName, LATE_DIR, markerKey, maxDataFileNameBytes } from './layout.js';
import type { OssSinkOptions } from './options.js';
import { type PartitionGroup, Partitioner, type TimeSlice, valueBudget } from './partitioner.js';
import { MultipartFile, type OssCommitInfo, UploadSlots } from './upload.js';

/** What a writer keeps in each checkpoint. */
export interface OssWriterState {
  /** The checkpoint this state was taken at: the next files are named for the one after it. */
  checkpointId: number;
  /** Streaming: newest event time seen minus allowed_lateness (ms), or null before the first timed row. */
  watermark: number | null;
  /** Input has ended for this writer: it will see no more rows, so it holds no slice open. */
  ended: boolean;
  [key: string]: Json;
}

export interface OssWriterSettings {
  client: OssClient;
  prefix: string;
  options: OssSinkOptions;
  mode: 'batch' | 'streaming';
  /** The end of the newest time slice that has a completion marker (ms), from the partition state object. */
  markedThrough: number | null;
  /** Whether the job shares the prefix (allow_non_empty_target): its markers are then `_SUCCESS.<job>`. */
  shared: boolean;
}

/**
 * One writer of the OSS sink. Every checkpoint finishes every open file (the footer is written, the tail
 * uploaded as the last part) and hands the uploads to the committer, so a checkpoint owns exactly the
 * rows read before its barrier and nothing in memory. Between checkpoints a file is also finished when it
 * reaches max_file_size, when it is older than flush_interval, or when more than max_open_files are open.
 *
 * Late rows: a row whose time slice has ended before this writer's watermark (streaming) or whose slice
 * already has a completion marker goes under `_late/` (or fails the job with late_data: fail).
 */
export class OssWriter implements SinkWriter<OssCommitInfo, OssWriterState> {
  private readonly files = new Map<string, MultipartFile>();
  /** Files finishing in the background (rolled between checkpoints); their infos join the next prepareCommit. */
  private finishing: { file: MultipartFile; done: Promise<OssCommitInfo> }[] = [];
  private failure: unknown;
  private readonly slots: UploadSlots;
  private readonly initSlots: UploadSlots;
  private readonly partitioner: Partitioner;
  private sequence = 0;
  private nextCheckpoint: number;
  private watermark: number | null;
  private ended = false;
  /** Slices whose marker this writer looked up: true when the marker exists. */
  private readonly markerCache = new Map<string, boolean>();
  private closed: Promise<void> | undefined;
  private readonly counts = { rowsWritten: 0, rowsLate: 0, finishedBytes: 0 };

  constructor(
    private readonly settings: OssWriterSettings,
    private readonly context: SinkWriterContext,
    restored: OssWriterState | undefined,
  ) {
    this.slots = new UploadSlots(settings.options.upload_concurrency);
    this.initSlots = new UploadSlots(settings.options.upload_concurrency);
    const maxValueBytes = valueBudget(settings.options.partition_by, settings.prefix, LATE_DIR, maxDataFileNameBytes(context.jobName));
    this.partitioner = new Partitioner(settings.options.partition_by, context.schema, { maxValueBytes });
    this.nextCheckpoint = (restored?.checkpointId ?? 0) + 1;
    this.watermark = restored?.watermark ?? null;
  }

  async write(batch: RecordBatch): Promise<void> {
    this.throwIfFailed();
    if (batch.numRows === 0) return;
    let newest: number | undefined;
    for (const group of this.partitioner.split(batch)) {
      const reason = await this.lateReason(group);
      const late = reason !== undefined;
      if (late) this.onLate(group, reason);
      const path = late ? `${LATE_DIR}${group.path}` : group.path;
      const file = await this.fileFor(path, group, late, batch);
      await file.write(group.batch);
      this.counts.rowsWritten += group.batch.numRows;
      if (group.maxTime !== undefined && (newest === undefined || group.maxTime > newest)) newest = group.maxTime;
      if (file.size >= this.settings.options.max_file_size) this.finishFile(path);
    }
    if (newest !== undefined && this.settings.mode === 'streaming') {
      const candidate = newest - this.settings.options.allowed_lateness;
      if (this.watermark === null || candidate > this.watermark) this.watermark = candidate;
    }
    this.finishAged();
  }

  /** For the job report: late rows are written (under `_late/`) and counted apart as late. */
  get stats() {
    let bytes = this.counts.finishedBytes;
    for (const file of this.files.values()) bytes += file.encoder.bytesOut;
    return { rowsWritten: this.counts.rowsWritten, bytesWritten: bytes, rowsLate: this.counts.rowsLate };
  }

  /** Why the group's slice no longer takes rows, or undefined when it does. */
  private async lateReason(group: PartitionGroup): Promise<string | undefined> {
    const slice = group.slice;
    if (!slice) return undefined;
    if (this.settings.mode === 'streaming' && this.watermark !== null && slice.end <= this.watermark) {
      return `it ended before this writer's watermark, ${new Date(this.watermark).toISOString()}`;
    }
    return (await this.hasMarker(slice)) ? 'it has a _SUCCESS marker' : undefined;
  }

  /** Looks the marker up only for slices that can have one: those ending by the newest marked slice. */
  private async hasMarker(slice: TimeSlice): Promise<boolean> {
    const markedThrough = this.settings.markedThrough;
    if (markedThrough === null || slice.end > markedThrough) return false;
    let known = this.markerCache.get(slice.path);
    if (known === undefined) {
      known = (await this.settings.client.head(markerKey(this.settings.prefix, slice.path, this.context.jobName, this.settings.shared), this.context.signal)) !== undefined;
      this.markerCache.set(slice.path, known);
    }
    return known;
  }

  private onLate(group: PartitionGroup, reason: string): void {
    const rows = group.batch.numRows;
    if (this.settings.options.late_data === 'fail') {
      const where = this.settings.client.url(`${this.settings.prefix}${group.slice!.path}`);
      throw new TidewayError(
        'OSS_LATE_DATA',
        `${rows} row(s) arrived for time slice ${where}, which is already complete (${reason}); set late_data: redirect to write such rows under ${LATE_DIR}, or raise allowed_lateness`,
        { context: { connector: 'oss', object: where } },
      );
    }
    this.counts.rowsLate += rows;
  }

  private async fileFor(path: string, group: PartitionGroup, late: boolean, batch: RecordBatch): Promise<MultipartFile> {
    const open = this.files.get(path);
    if (open) return open;
    if (this.files.size >= this.settings.options.max_open_files) this.finishLeastRecent();
    const { options, client, prefix } = this.settings;
    const encoder = createEncoder(options.format, batch.schema, { ...options, name: client.url(`${prefix}${path}`) });
    const key = `${prefix}${path}${dataFileName({
      job: this.context.jobName,
      attemptId: this.context.attemptId,
      writer: this.context.writerIndex,
      checkpoint: this.nextCheckpoint,
      sequence: this.sequence++,
      extension: encoder.extension,
    })}`;
    const file = new MultipartFile({
      client,
      key,
      encoder,
      partSize: options.part_size,
      slots: this.slots,
      initSlots: this.initSlots,
      signal: this.context.signal,
      logger: this.context.logger,
      slice: group.slice ? { path: group.slice.path, end: group.slice.end } : undefined,
      late,
    });
    this.files.set(path, file);
    return file;
  }

  /** Finishes a file in the background; its info joins the next prepareCommit. */
  private finishFile(path: string): void {
    const file = this.files.get(path);
    if (!file) return;
    this.files.delete(path);
    const done = file.finish().then((info) => {
      this.counts.finishedBytes += info.bytes;
      return info;
    });
    done.catch((error: unknown) => {
      this.failure ??= error;
    });
    this.finishing.push({ file, done });
  }

  private finishLeastRecent(): void {
    let oldest: [string, MultipartFile] | undefined;
    for (const entry of this.files) if (!oldest || entry[1].lastWriteAt < oldest[1].lastWriteAt) oldest = entry;
    if (oldest) this.finishFile(oldest[0]);
  }

  private finishAged(): void {
    const limit = this.settings.options.flush_interval;
    if (limit <= 0) return;
    const now = Date.now();
    for (const [path, file] of [...this.files]) if (now - file.openedAt >= limit) this.finishFile(path);
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  async prepareCommit(checkpointId: number): Promise<OssCommitInfo[]> {
    this.throwIfFailed();
    for (const path of [...this.files.keys()]) this.finishFile(path);
    // The files stay listed until every one is complete, so that a failure here still aborts them all.
    const infos = await Promise.all(this.finishing.map((f) => f.done));
    this.finishing = [];
    this.nextCheckpoint = checkpointId + 1;
    return infos;
  }

  snapshotState(checkpointId: number): OssWriterState {
    return { checkpointId, watermark: this.watermark, ended: this.ended };
  }

  async endOfInput(): Promise<void> {
    this.ended = true;
  }

  /** Aborts every upload not yet handed to a checkpoint: open files, finished ones waiting for the next. */
  async abortPrepare(): Promise<void> {
    const files = [...this.files.values(), ...this.finishing.map((f) => f.file)];
    this.files.clear();
    this.finishing = [];
    await Promise.all(files.map((file) => file.abort()));
  }

  /** Whatever no checkpoint took over must not linger as an upload. Safe to call twice. */
  close(): Promise<void> {
    this.closed ??= this.abortPrepare();
    return this.closed;
  }
}
