import type { RecordBatch } from 'apache-arrow';
import type { SplitChunk, SplitReader } from '../../src/api/source.js';
import type { TunnelRowReader } from './client/row-reader.js';
import type { DownloadSession } from './client/session.js';
import type { TunnelClient } from './client/tunnel-client.js';
import type { MaxComputeSourceOptions } from './options.js';
import type { MaxComputeSplit } from './source.js';

/** Open streams kept per reader: the queue reader round-robins over the splits it holds. */
const MAX_OPEN_STREAMS = 4;

interface OpenRange {
  reader: TunnelRowReader;
  /** The split offset the stream's next row belongs to. */
  offset: number;
}

/**
 * Reads a split chunk by chunk. The HTTP stream of a split stays open between chunks (reopening costs a
 * round trip and a server-side seek), and is reopened at `start + offset` whenever the split it is asked
 * for does not continue where the stream is, as after a restore.
 */
export class MaxComputeSplitReader implements SplitReader<MaxComputeSplit> {
  private readonly sessions = new Map<string, Promise<DownloadSession>>();
  private readonly open = new Map<string, OpenRange>();

  constructor(
    private readonly client: TunnelClient,
    private readonly options: MaxComputeSourceOptions,
  ) {}

  async read(split: MaxComputeSplit, { maxRows, signal }: { maxRows: number; signal: AbortSignal }): Promise<SplitChunk<MaxComputeSplit>> {
    if (split.offset >= split.count) return { batches: [], next: split, finished: true };
    let range = this.open.get(split.splitId);
    if (range && range.offset !== split.offset) {
      await range.reader.close();
      this.open.delete(split.splitId);
      range = undefined;
    }
    if (!range) {
      const session = await this.attach(split, signal);
      range = {
        reader: this.client.openReader(session, {
          start: split.start + split.offset,
          count: split.count - split.offset,
          columns: this.options.read_columns,
          format: this.options.format,
          signal,
        }),
        offset: split.offset,
      };
      await this.makeRoom();
      this.open.set(split.splitId, range);
    }
    let batch: RecordBatch | null;
    try {
      batch = await range.reader.read(maxRows);
    } catch (error) {
      await range.reader.close();
      this.open.delete(split.splitId);
      throw error;
    }
    const rows = batch?.numRows ?? 0;
    const next: MaxComputeSplit = { ...split, offset: split.offset + rows };
    range.offset = next.offset;
    const finished = next.offset >= split.count;
    if (finished) {
      this.open.delete(split.splitId);
      await range.reader.close();
    }
    return { batches: batch ? [batch] : [], next, finished };
  }

  async close(): Promise<void> {
    for (const range of this.open.values()) await range.reader.close();
    this.open.clear();
  }

  private attach(split: MaxComputeSplit, signal: AbortSignal): Promise<DownloadSession> {
    let session = this.sessions.get(split.sessionId);
    if (!session) {
      session = this.client.attachDownloadSession(this.options.table_name, split.sessionId, { partition: split.partition, signal });
      this.sessions.set(split.sessionId, session);
      session.catch(() => this.sessions.delete(split.sessionId));
    }
    return session;
  }

  private async makeRoom(): Promise<void> {
    while (this.open.size >= MAX_OPEN_STREAMS) {
      const [oldest, range] = this.open.entries().next().value as [string, OpenRange];
      this.open.delete(oldest);
      await range.reader.close();
    }
  }
}

