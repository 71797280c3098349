import { randomBytes } from 'node:crypto';
import type { RecordBatch } from 'apache-arrow';
import type { Json } from '../../src/api/json.js';
import type { Logger } from '../../src/api/logger.js';
import type { Encoder } from '../../src/formats/encoder.js';
import { describeError } from '../../src/api/errors.js';
import type { CompletedPart, OssClient } from './client.js';

/** One object of the OSS sink, handed to the committer: a multipart upload with every part uploaded. */
export interface OssCommitInfo {
  key: string;
  uploadId: string;
  /**
   * A random value set as the object's `x-oss-meta-tideway-commit` when the upload is initiated: a commit that
   * finds the upload gone recognises the object its earlier attempt completed by this value alone. Null (or
   * absent) in commit infos of checkpoints taken before tokens existed.
   */
  token: string | null;
  parts: { number: number; etag: string }[];
  rows: number;
  bytes: number;
  /** The time slice folder (relative to the prefix) the rows belong to, or null. */
  slice: string | null;
  /** End of that slice (ms since the epoch), or null. */
  sliceEnd: number | null;
  /** Rows that arrived after their slice completed (the object is under `_late/`). */
  late: boolean;
  [key: string]: Json;
}

/** The user metadata (`x-oss-meta-<name>`) that carries a data object's commit token. */
export const COMMIT_TOKEN_META = 'tideway-commit';

/** At most `max` part uploads of one writer run at once; further parts wait (backpressure on write). */
export class UploadSlots {
  private active = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly max: number) {}

  async acquire(): Promise<void> {
    while (this.active >= this.max) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.active++;
  }

  release(): void {
    this.active--;
    this.waiters.shift()?.();
  }
}

export interface MultipartFileOptions {
  client: OssClient;
  key: string;
  encoder: Encoder;
  partSize: number;
  /** Part uploads in flight per writer. */
  slots: UploadSlots;
  /** Initiates in flight per writer: separate from the part slots, which wait for an initiate. */
  initSlots: UploadSlots;
  signal: AbortSignal;
  logger: Logger;
  slice: { path: string; end: number } | undefined;
  late: boolean;
}

/**
 * One object being written as a multipart upload: encoded bytes accumulate until a part's worth, which is
 * uploaded in the background (bounded by the writer's slots) while encoding goes on. Nothing is visible
 * until the committer completes the upload. The upload is initiated when the file opens.
 */
export class MultipartFile {
  readonly key: string;
  /** Identifies the completed object as this upload's (see OssCommitInfo.token). */
  readonly token = randomBytes(16).toString('hex');
  readonly openedAt = Date.now();
  lastWriteAt = Date.now();
  private uploadId: Promise<string> | undefined;
  private chunks: Uint8Array[] = [];
  private pendingBytes = 0;
  private nextPart = 1;
  private readonly parts: Promise<CompletedPart>[] = [];
  private failure: unknown;
  private state: 'open' | 'finished' | 'aborted' = 'open';
  private finishing: Promise<OssCommitInfo> | undefined;

  constructor(private readonly options: MultipartFileOptions) {
    this.key = options.key;
    // Initiated at once, in the background: the round trip overlaps with encoding instead of delaying the first part.
    this.ensureUpload().catch((error: unknown) => {
      this.failure ??= error;
    });
  }

  get encoder(): Encoder {
    return this.options.encoder;
  }

  /** Bytes encoded so far plus what the encoder still holds: the file's size if finished now. */
  get size(): number {
    return this.options.encoder.bytesOut + this.options.encoder.bufferedBytes;
  }

  /** Memory this file holds: bytes waiting for a part, and the encoder's buffer. */
  get buffered(): number {
    return this.pendingBytes + this.options.encoder.bufferedBytes;
  }

  /** Encodes the batch; uploads a part once a part's worth of bytes is pending. */
  async write(batch: RecordBatch): Promise<void> {
    this.throwIfFailed();
    this.lastWriteAt = Date.now();
    this.append(this.options.encoder.encode(batch));
    if (this.pendingBytes >= this.options.partSize) await this.uploadPending();
  }

  private append(chunks: Uint8Array[]): void {
    for (const chunk of chunks) {
      if (chunk.byteLength === 0) continue;
      this.chunks.push(chunk);
      this.pendingBytes += chunk.byteLength;
    }
  }

  private ensureUpload(): Promise<string> {
    this.uploadId ??= (async () => {
      const { initSlots, client, encoder, signal } = this.options;
      await initSlots.acquire();
      try {
        return await client.initUpload(this.key, encoder.contentType, { [COMMIT_TOKEN_META]: this.token }, signal);
      } finally {
        initSlots.release();
      }
    })();
    return this.uploadId;
  }

  /** Starts uploading what is pending as the next part; waits only for a free slot. */
  private async uploadPending(): Promise<void> {
    const body = Buffer.concat(this.chunks, this.pendingBytes);
    this.chunks = [];
    this.pendingBytes = 0;
    const number = this.nextPart++;
    const { slots, client, signal } = this.options;
    await slots.acquire();
    const part = (async (): Promise<CompletedPart> => {
      try {
        const uploadId = await this.ensureUpload();
        return { number, etag: await client.uploadPart(this.key, uploadId, number, body, signal) };
      } finally {
        slots.release();
      }
    })();
    part.catch((error: unknown) => {
      this.failure ??= error;
    });
    this.parts.push(part);
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** Writes the footer, uploads the tail as the last part and waits for every part: the commit info. */
  finish(): Promise<OssCommitInfo> {
    if (this.state !== 'open') throw new Error(`${this.key} is already ${this.state}`);
    this.state = 'finished';
    this.finishing = this.complete();
    return this.finishing;
  }

  private async complete(): Promise<OssCommitInfo> {
    this.append(this.options.encoder.finish());
    if (this.pendingBytes > 0 || this.parts.length === 0) await this.uploadPending();
    const parts = await Promise.all(this.parts);
    const uploadId = await this.ensureUpload();
    const { slice, late, encoder } = this.options;
    return {
      key: this.key,
      uploadId,
      token: this.token,
      parts: parts.map((p) => ({ number: p.number, etag: p.etag })),
      rows: encoder.rowsIn,
      bytes: encoder.bytesOut,
      slice: slice?.path ?? null,
      sliceEnd: slice?.end ?? null,
      late,
    };
  }

  /** Stops and aborts the upload (best effort: what fails here is removed as an orphan by the next run). */
  async abort(): Promise<void> {
    if (this.state === 'aborted') return;
    this.state = 'aborted';
    this.chunks = [];
    // A finish in flight may still be starting its last part: let it settle, then every part.
    await this.finishing?.catch(() => undefined);
    await Promise.allSettled(this.parts);
    const uploadId = await this.uploadId?.catch(() => undefined);
    if (uploadId === undefined) return;
    try {
      await this.options.client.abortUpload(this.key, uploadId);
    } catch (error) {
      this.options.logger.warn('could not abort a multipart upload; the next run of the job (or tideway clean) removes it', {
        object: this.options.client.url(this.key),
        error: describeError(error),
      });
    }
  }
}
