import type { RecordBatch, Schema } from 'apache-arrow';
import { TidewayError } from '../../../src/api/errors.js';
import { ArrowFrameReader } from '../codec/arrow-frame.js';
import { readArrowPayload } from '../codec/arrow-ipc.js';
import { RecordStreamDecoder } from '../codec/record-reader.js';
import { type OdpsColumn, toArrowSchema } from '../codec/types.js';
import { isResumable, maxComputeError } from '../errors.js';
import { ChunkQueue, type HttpResponse } from './http.js';
import { backoffDelay, sleep } from './retry.js';
import type { DownloadSession } from './session.js';
import type { TunnelClient } from './tunnel-client.js';

/** `record`: the protobuf record format. `arrow`: the Tunnel Arrow variant (`&arrow`). */
export type ReadFormat = 'record' | 'arrow';

/** @internal */
export interface RowReaderInit {
  start: number;
  count: number;
  columns: readonly OdpsColumn[];
  /** Whether to send `columns=` (a projection was asked for). */
  projected: boolean;
  format: ReadFormat;
  signal: AbortSignal | undefined;
}

/**
 * Reads one row range of a download session as Arrow batches, `read(maxRows)` at a time.
 *
 * One HTTP stream serves many reads. When a stream fails (disconnect, 5xx, throttling, a corrupt or short
 * body) the reader reopens at `start + rowsAlreadyDecoded` for the rows still missing, as the Java SDK
 * does, so no row is delivered twice and none is skipped. Rows reach the caller only after their record
 * CRC (or Arrow chunk CRC) matched; the batch that completes the range is returned only after the stream's
 * end marker and checksums were verified. A session that no longer exists is not retried: it raises
 * `MAXCOMPUTE_SESSION_EXPIRED` for the planner to handle.
 */
export class TunnelRowReader {
  /** Arrow schema of the batches. */
  readonly schema: Schema;
  private delivered = 0;
  private failures = 0;
  private progressAtLastFailure = -1;
  private response: HttpResponse | undefined;
  private body: ChunkQueue | undefined;
  private decoder: RecordStreamDecoder | undefined;
  private batches: AsyncGenerator<RecordBatch> | undefined;
  private pending: RecordBatch | undefined;
  private pendingOffset = 0;
  private closed = false;
  private readonly names: readonly string[];
  private readonly label: string;

  constructor(
    private readonly client: TunnelClient,
    private readonly session: DownloadSession,
    private readonly init: RowReaderInit,
  ) {
    this.schema = toArrowSchema(init.columns);
    this.names = init.columns.map((c) => c.name);
    this.label = `${session.project}.${session.table}${session.partition ? ` (${session.partition})` : ''} rows ${init.start}..${init.start + init.count} of session ${session.id}`;
  }

  /** Rows returned so far. */
  get rowsDelivered(): number {
    return this.delivered;
  }

  /** Rows of the range not returned yet. */
  get rowsRemaining(): number {
    return this.init.count - this.delivered;
  }

  /** The next batch of at most `maxRows` rows, or null when the whole range was returned. */
  async read(maxRows: number): Promise<RecordBatch | null> {
    if (this.closed) throw maxComputeError('MAXCOMPUTE_REQUEST_FAILED', `the reader of ${this.label} is closed`);
    const want = Math.min(Math.max(1, maxRows), this.init.count - this.delivered);
    if (want <= 0) return null;
    for (;;) {
      try {
        const batch = this.init.format === 'arrow' ? await this.readArrow(want) : await this.readRecords(want);
        this.delivered += batch.numRows;
        return batch;
      } catch (error) {
        await this.recover(error);
      }
    }
  }

  /** Stops reading and releases the connection. */
  async close(): Promise<void> {
    this.closed = true;
    this.closeStream();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<RecordBatch> {
    for (;;) {
      const batch = await this.read(8192);
      if (!batch) return;
      yield batch;
    }
  }

  private async readRecords(want: number): Promise<RecordBatch> {
    const decoder = (this.decoder ??= new RecordStreamDecoder(this.init.columns, { batchCapacity: want, source: this.label, legacyCalendar: !this.session.dateTransform }));
    for (;;) {
      if (!this.body) await this.openStream(this.delivered + decoder.batchRows);
      const rows = decoder.decode(want);
      if (rows >= want) {
        if (this.delivered + rows === this.init.count) await this.drainRecords(decoder);
        return decoder.takeBatch(want)!;
      }
      if (decoder.complete) throw this.shortStream(this.delivered + rows);
      const next = await this.nextChunk();
      if (next === null) {
        decoder.end();
        continue;
      }
      decoder.push(next);
    }
  }

  /** Reads past the last wanted row to the end of the body, so the footer checks run before the last rows are returned. */
  private async drainRecords(decoder: RecordStreamDecoder): Promise<void> {
    const rows = decoder.batchRows;
    for (;;) {
      if (decoder.decode(rows + 1) > rows) {
        throw maxComputeError('MAXCOMPUTE_CORRUPT_STREAM', `MaxCompute sent more rows than the ${this.init.count} asked for in ${this.label}`, { retryable: true });
      }
      const next = await this.nextChunk();
      if (next === null) {
        decoder.end();
        this.releaseStream();
        return;
      }
      decoder.push(next);
    }
  }

  private async readArrow(want: number): Promise<RecordBatch> {
    for (;;) {
      if (!this.pending || this.pendingOffset >= this.pending.numRows) {
        if (!this.batches) await this.openStream(this.delivered);
        const next = await this.batches!.next();
        if (next.done) throw this.shortStream(this.delivered);
        this.pending = next.value;
        this.pendingOffset = 0;
        if (this.delivered + this.pending.numRows > this.init.count) {
          throw maxComputeError('MAXCOMPUTE_CORRUPT_STREAM', `MaxCompute sent more rows than the ${this.init.count} asked for in ${this.label}`, { retryable: true });
        }
        continue;
      }
      const batch = this.pending;
      const k = Math.min(want, batch.numRows - this.pendingOffset);
      const out = this.pendingOffset === 0 && k === batch.numRows ? batch : batch.slice(this.pendingOffset, this.pendingOffset + k);
      if (this.delivered + k === this.init.count) {
        const after = await this.batches!.next();
        if (!after.done) {
          throw maxComputeError('MAXCOMPUTE_CORRUPT_STREAM', `MaxCompute sent more rows than the ${this.init.count} asked for in ${this.label}`, { retryable: true });
        }
        this.releaseStream();
      }
      this.pendingOffset += k;
      return out;
    }
  }

  private shortStream(received: number) {
    return maxComputeError(
      'MAXCOMPUTE_CORRUPT_STREAM',
      `MaxCompute ended the stream of ${this.label} after ${received} of ${this.init.count} rows`,
      { retryable: true },
    );
  }

  private async openStream(from: number): Promise<void> {
    const response = await this.client.openDataStream(
      this.session,
      { start: this.init.start + from, count: this.init.count - from },
      this.init.projected ? this.names : undefined,
      this.init.format,
      this.init.signal,
    );
    this.response = response;
    if (this.init.format === 'record') {
      this.body = new ChunkQueue(response.body);
      this.decoder?.resetStream();
      return;
    }
    const frames = new ArrowFrameReader(this.label);
    const body = new ChunkQueue(response.body);
    async function* payload(): AsyncGenerator<Uint8Array> {
      for (;;) {
        let chunk: Buffer | null;
        try {
          chunk = await body.next();
        } catch (error) {
          throw error instanceof TidewayError ? error : brokenConnection(error, frames.source);
        }
        if (chunk === null) break;
        yield* frames.push(chunk);
      }
      yield* frames.end();
    }
    this.pending = undefined;
    this.pendingOffset = 0;
    this.batches = readArrowPayload(this.init.columns, payload(), this.schema);
  }

  private async nextChunk(): Promise<Uint8Array | null> {
    try {
      return await this.body!.next();
    } catch (error) {
      throw error instanceof TidewayError ? error : brokenConnection(error, this.label);
    }
  }

  private async recover(error: unknown): Promise<void> {
    this.closeStream();
    if (this.closed || this.init.signal?.aborted) throw error;
    if (!isResumable(error)) throw error;
    const progress = this.delivered + (this.decoder?.batchRows ?? 0);
    // A stream that delivered rows since the last failure earns a fresh retry budget: a flaky link that
    // keeps moving forward finishes; one that fails in the same place gives up.
    if (progress > this.progressAtLastFailure) this.failures = 0;
    this.progressAtLastFailure = progress;
    this.failures++;
    const policy = this.client.retry;
    if (this.failures > policy.maxRetries) {
      const e = error as TidewayError;
      throw new TidewayError(e.code, `${e.message} Gave up after ${this.failures} attempts without progress; raise max_retries or retry later.`, {
        cause: error,
        context: e.context,
        retryable: true,
      });
    }
    const delay = backoffDelay(policy, this.failures, error);
    this.client.logger.warn('MaxCompute read failed; resuming', {
      range: this.label,
      resumeAt: this.init.start + progress,
      attempt: this.failures,
      delayMs: Math.round(delay),
      error: (error as Error).message,
    });
    await sleep(delay, this.init.signal);
  }

  /** Forgets a stream that ended cleanly (its connection goes back to the pool). */
  private releaseStream(): void {
    this.response = undefined;
    this.body = undefined;
    this.batches = undefined;
  }

  private closeStream(): void {
    this.response?.message.destroy();
    this.response?.body.destroy();
    this.batches?.return(undefined).catch(() => {});
    this.response = undefined;
    this.body = undefined;
    this.batches = undefined;
    this.pending = undefined;
    this.pendingOffset = 0;
    this.decoder?.resetStream();
  }
}

function brokenConnection(error: unknown, label: string): TidewayError {
  return maxComputeError('MAXCOMPUTE_NETWORK', `the connection broke while reading ${label}: ${(error as Error)?.message ?? String(error)}`, {
    cause: error,
    retryable: true,
  });
}
