import type { Readable } from 'node:stream';
import { type RecordBatch, RecordBatchReader, type Schema, Table, tableToIPC } from 'apache-arrow';
import type { FactoryContext } from '../../src/api/connector.js';
import { TidewayError } from '../../src/api/errors.js';
import type { Json } from '../../src/api/json.js';
import type { Logger } from '../../src/api/logger.js';
import type {
  Source,
  SourceReader,
  SourceReaderContext,
  SourceSplit,
  SplitChunk,
  SplitEnumerator,
  SplitEnumeratorContext,
  SplitReader,
} from '../../src/api/source.js';
import { SplitQueueReader } from '../../src/api/split-queue-reader.js';
import { rangeReadStart, splitByteRanges } from '../../src/formats/byte-range.js';
import { createDecoder, inferSchema } from '../../src/formats/decoder.js';
import type { FileFormat } from '../../src/formats/options.js';
import { type ObjectInfo, type OssClient, sameEtag } from './client.js';
import type { EmbeddedLease } from './embedded.js';
import { isHiddenKey } from './layout.js';
import { normalizePrefix, type OssSourceOptions, RETRY_MAX_DELAY_MS } from './options.js';
import { backoffMs, isTransient, sleep } from './retry.js';
import { makeClient, prepareConnection } from './sink.js';

/** An object, or a byte range `[start, end)` of a large CSV / JSON Lines object. `offset` counts rows already emitted. */
export interface OssSplit extends SourceSplit {
  splitId: string;
  key: string;
  size: number;
  etag: string;
  format: FileFormat;
  gzip: boolean;
  start: number | null;
  end: number | null;
  offset: number;
}

interface EnumeratorState {
  pending: OssSplit[];
  listed: boolean;
  [key: string]: Json;
}

const EXTENSIONS: [RegExp, FileFormat, boolean][] = [
  [/\.(jsonl|ndjson|json)$/i, 'jsonl', false],
  [/\.(jsonl|ndjson|json)\.gz$/i, 'jsonl', true],
  [/\.csv$/i, 'csv', false],
  [/\.csv\.gz$/i, 'csv', true],
  [/\.(arrow|arrows|feather|ipc)$/i, 'arrow', false],
  [/\.(parquet|parq)$/i, 'parquet', false],
];

/** The format of an object from the `format` option or its extension; undefined for an unknown extension. */
export function formatOf(key: string, options: Pick<OssSourceOptions, 'format' | 'compression'>): { format: FileFormat; gzip: boolean } | undefined {
  const byName = EXTENSIONS.find(([pattern]) => pattern.test(key));
  if (options.format !== 'auto') {
    const gzip = options.compression === 'gzip' || (options.compression === undefined && /\.gz$/i.test(key));
    return { format: options.format, gzip: (options.format === 'jsonl' || options.format === 'csv') && gzip };
  }
  if (!byName) return undefined;
  return { format: byName[1], gzip: byName[2] || options.compression === 'gzip' };
}

/**
 * Reads the objects under a prefix. A split is an object, or a byte range of an uncompressed CSV / JSON
 * Lines object larger than split_size (the formats' byte-range rule gives every record to one range).
 * Readers read bounded chunks and keep the rows read in the split's `offset`, so a restore resumes in the
 * middle of an object without duplicates. Keys with a segment starting with `_` or `.` are skipped, which
 * leaves out what the OSS sink keeps beside its data (`_tideway/`, `_late/`, `_SUCCESS`).
 */
export class OssSource implements Source<OssSplit, EnumeratorState> {
  readonly boundedness = 'bounded' as const;
  private readonly prefix: string;
  private prepared: Json | undefined;
  private lease: EmbeddedLease | undefined;
  private client: OssClient | undefined;
  private listing: Promise<OssSplit[]> | undefined;
  private schemaValue: Schema | undefined;
  private readonly logger: Logger;

  constructor(
    private readonly options: OssSourceOptions,
    private readonly factory: FactoryContext,
  ) {
    this.prefix = normalizePrefix(options.path);
    this.logger = factory.logger;
  }

  /**
   * Starts the embedded emulator if asked to, lists the prefix and reads the schema from the first object,
   * once: readers get both connection and schema through `prepared`, whichever thread they run on.
   */
  async prepare({ signal }: { signal: AbortSignal }): Promise<Json> {
    const { prepared, lease } = await prepareConnection(this.options, this.factory.baseDir);
    this.lease = lease;
    this.prepared = prepared;
    const schema = await this.inferSchema(signal);
    this.schemaValue = schema;
    this.prepared = { ...prepared, schema: Buffer.from(tableToIPC(new Table(schema), 'stream')).toString('base64') };
    return this.prepared;
  }

  /** Pre-flight for `tideway check --connect`: the bucket answers and the keys work. Reads one listing page. */
  async check({ signal }: { signal: AbortSignal }): Promise<void> {
    const { prepared, lease } = await prepareConnection(this.options, this.factory.baseDir);
    try {
      await makeClient(this.options, prepared, this.logger).listPage(this.prefix, { maxKeys: 1 }, signal);
    } finally {
      await lease?.release();
    }
  }

  private clientOnCoordinator(): OssClient {
    this.client ??= makeClient(this.options, this.prepared, this.logger);
    return this.client;
  }

  /** Lists the prefix once per Source object (schema and enumerator share it). */
  private listSplits(signal?: AbortSignal): Promise<OssSplit[]> {
    this.listing ??= this.list(signal);
    return this.listing;
  }

  private async list(signal?: AbortSignal): Promise<OssSplit[]> {
    const client = this.clientOnCoordinator();
    const splits: OssSplit[] = [];
    const unknown: string[] = [];
    for await (const object of client.listAll(this.prefix, signal)) {
      const relative = object.key.slice(this.prefix.length);
      if (relative === '' || relative.endsWith('/') || isHiddenKey(relative)) continue;
      const kind = formatOf(object.key, this.options);
      if (!kind) {
        unknown.push(object.key);
        continue;
      }
      splits.push(...this.splitsOf(object, kind.format, kind.gzip));
    }
    if (unknown.length > 0) {
      this.logger.warn(`skipping ${unknown.length} object(s) whose extension names no format; set format to read them`, { source: 'oss', example: unknown[0] });
    }
    return splits;
  }

  private splitsOf(object: ObjectInfo, format: FileFormat, gzip: boolean): OssSplit[] {
    const base = { key: object.key, size: object.size, etag: object.etag, format, gzip, offset: 0 };
    const rangeable = (format === 'jsonl' || format === 'csv') && !gzip && object.size > this.options.split_size;
    if (!rangeable) return [{ splitId: object.key, ...base, start: null, end: null }];
    return splitByteRanges(object.size, this.options.split_size).map((r) => ({ splitId: `${object.key}#${r.start}-${r.end}`, ...base, start: r.start, end: r.end }));
  }

  async schema({ signal }: { signal: AbortSignal }): Promise<Schema> {
    this.schemaValue ??= await this.inferSchema(signal);
    return this.schemaValue;
  }

  private async inferSchema(signal: AbortSignal): Promise<Schema> {
    const splits = await this.listSplits(signal);
    const first = splits[0];
    const client = this.clientOnCoordinator();
    if (!first) {
      throw new TidewayError('OSS_SOURCE_EMPTY', `the oss source found no objects to read under ${client.url(this.prefix)} at ${client.endpoint}; check bucket and path (keys with a segment starting with _ or . are skipped)`, {
        context: { connector: 'oss', object: client.url(this.prefix) },
      });
    }
    const { stream } = await client.openStream(first.key, 0, signal);
    try {
      return await inferSchema(first.format, stream as AsyncIterable<Uint8Array>, {
        name: client.url(first.key),
        signal,
        inferRows: this.options.infer_rows,
        csv_delimiter: this.options.csv_delimiter,
        csv_header: this.options.csv_header,
        ...(first.gzip ? { compression: 'gzip' as const } : {}),
      });
    } finally {
      stream.destroy();
    }
  }

  async createEnumerator(context: SplitEnumeratorContext<OssSplit>): Promise<SplitEnumerator<OssSplit, EnumeratorState>> {
    return new OssEnumerator(context, () => this.listSplits(context.signal), undefined);
  }

  async restoreEnumerator(context: SplitEnumeratorContext<OssSplit>, state: EnumeratorState): Promise<SplitEnumerator<OssSplit, EnumeratorState>> {
    return new OssEnumerator(context, () => this.listSplits(context.signal), state.listed ? state.pending : undefined);
  }

  async createReader(context: SourceReaderContext): Promise<SourceReader<OssSplit>> {
    const client = makeClient(this.options, context.prepared, context.logger);
    const encoded = (context.prepared as { schema?: unknown } | undefined)?.schema;
    if (typeof encoded !== 'string') {
      throw new TidewayError('OSS_SOURCE_NOT_PREPARED', 'the oss source reader needs the schema its prepare step read; build readers through the engine (runJob)', { context: { connector: 'oss' } });
    }
    const schema = RecordBatchReader.from(Buffer.from(encoded, 'base64')).open().schema;
    return new SplitQueueReader(context, new OssSplitReader(client, this.options, schema), { chunkRows: this.options.chunk_rows });
  }

  async close(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    await lease?.release();
  }
}

class OssEnumerator implements SplitEnumerator<OssSplit, EnumeratorState> {
  private pending: OssSplit[] = [];
  private listed: boolean;
  private readonly waiting = new Set<number>();
  private total = 0;

  constructor(
    private readonly context: SplitEnumeratorContext<OssSplit>,
    private readonly list: () => Promise<OssSplit[]>,
    restored: OssSplit[] | undefined,
  ) {
    this.listed = restored !== undefined;
    if (restored) this.pending = [...restored];
    this.total = this.pending.length;
  }

  async run(): Promise<void> {
    if (!this.listed) {
      // Splits given back before the listing (a restore) keep their progress; the listing adds the rest.
      const known = new Set(this.pending.map((s) => s.splitId));
      this.pending.push(...(await this.list()).filter((s) => !known.has(s.splitId)));
      this.listed = true;
      this.total = this.pending.length;
    }
    for (const reader of [...this.waiting]) this.handleSplitRequest(reader);
  }

  registerReader(): void {}

  /** One split per request: readers that finish early take more, so large and small objects balance. */
  handleSplitRequest(readerId: number): void {
    if (!this.listed) {
      this.waiting.add(readerId);
      return;
    }
    this.waiting.delete(readerId);
    const split = this.pending.shift();
    if (split) this.context.assignSplit(readerId, [split]);
    else this.context.signalNoMoreSplits(readerId);
  }

  addSplitsBack(splits: OssSplit[]): void {
    this.pending.unshift(...splits);
    this.total = Math.max(this.total, this.pending.length);
  }

  snapshotState(): EnumeratorState {
    return { pending: [...this.pending], listed: this.listed };
  }

  progress() {
    return { totalSplits: this.total };
  }

  async close(): Promise<void> {}
}

interface LiveRead {
  /** Rows of the split this iterator has returned (or skipped) so far. */
  position: number;
  iterator: AsyncIterator<RecordBatch>;
  stream: Readable;
  /** Rows pulled from the decoder beyond the last chunk's limit. */
  carry: RecordBatch | undefined;
}

/**
 * Reads one split in chunks of at most maxRows rows, keeping the decoder open between chunks. A read that
 * fails on the way (a reset, a truncated body, a 5xx) is retried from the split's offset: the object is
 * opened again and the rows before the offset are skipped, so no row is emitted twice.
 */
class OssSplitReader implements SplitReader<OssSplit> {
  private readonly live = new Map<string, LiveRead>();

  constructor(
    private readonly client: OssClient,
    private readonly options: OssSourceOptions,
    private readonly schema: Schema,
  ) {}

  async read(split: OssSplit, { maxRows, signal }: { maxRows: number; signal: AbortSignal }): Promise<SplitChunk<OssSplit>> {
    const retry = { maxRetries: this.options.max_retries, baseDelayMs: this.options.retry_backoff, maxDelayMs: RETRY_MAX_DELAY_MS };
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.readChunk(split, maxRows, signal);
      } catch (error) {
        this.drop(split.splitId);
        if (attempt >= retry.maxRetries || !isRetryableRead(error) || signal.aborted) throw this.client.wrap('GetObject', split.key, error, attempt + 1);
        await sleep(backoffMs(retry, attempt + 1), signal);
      }
    }
  }

  private async readChunk(split: OssSplit, maxRows: number, signal: AbortSignal): Promise<SplitChunk<OssSplit>> {
    let live = this.live.get(split.splitId);
    if (!live || live.position !== split.offset) {
      this.drop(split.splitId);
      live = await this.open(split, signal);
      this.live.set(split.splitId, live);
    }
    const batches: RecordBatch[] = [];
    let rows = 0;
    let finished = false;
    while (rows < maxRows) {
      let batch = live.carry;
      live.carry = undefined;
      if (!batch) {
        const next = await live.iterator.next();
        if (next.done) {
          finished = true;
          break;
        }
        batch = next.value;
        checkSchema(this.schema, batch.schema, this.client.url(split.key));
      }
      if (rows + batch.numRows > maxRows) {
        const take = maxRows - rows;
        live.carry = batch.slice(take, batch.numRows);
        batch = batch.slice(0, take);
      }
      batches.push(batch);
      rows += batch.numRows;
    }
    live.position += rows;
    if (finished) this.drop(split.splitId);
    return { batches, next: { ...split, offset: split.offset + rows }, finished };
  }

  private async open(split: OssSplit, signal: AbortSignal): Promise<LiveRead> {
    const name = this.client.url(split.key);
    const text = split.format === 'jsonl' || split.format === 'csv';
    const range = split.start !== null && split.end !== null ? { start: split.start, end: split.end } : undefined;
    const from = range ? rangeReadStart(range) : 0;
    const { stream, etag } = await this.client.openStream(split.key, from, signal);
    if (split.etag && etag && !sameEtag(etag, split.etag)) {
      stream.destroy();
      throw new TidewayError('OSS_OBJECT_CHANGED', `${name} changed since the job listed it (ETag ${split.etag}, now ${etag}); a job must read objects that stay put. To read the new version, start over with --fresh, with data_save_mode set on the sink to replace this job's earlier output (overwrite, or truncate for a table) so that no row is written twice`, {
        context: { connector: 'oss', object: name },
      });
    }
    const decoder = createDecoder(split.format, {
      batchRows: this.options.chunk_rows,
      csv_delimiter: this.options.csv_delimiter,
      csv_header: this.options.csv_header,
      ...(text ? { compression: split.gzip ? ('gzip' as const) : ('none' as const) } : {}),
      ...(text ? { schema: this.schema } : {}),
    });
    const batches = decoder.decode(stream as AsyncIterable<Uint8Array>, { name, signal, ...(range ? { range, inputOffset: from } : {}) });
    const live: LiveRead = { position: 0, iterator: batches[Symbol.asyncIterator](), stream, carry: undefined };
    // Resume in the middle of the split: skip the rows an earlier checkpoint already has.
    let skip = split.offset;
    while (skip > 0) {
      const next = await live.iterator.next();
      if (next.done) break;
      if (next.value.numRows <= skip) {
        skip -= next.value.numRows;
        continue;
      }
      live.carry = next.value.slice(skip, next.value.numRows);
      skip = 0;
    }
    live.position = split.offset;
    return live;
  }

  private drop(splitId: string): void {
    const live = this.live.get(splitId);
    if (!live) return;
    this.live.delete(splitId);
    live.stream.destroy();
    void Promise.resolve(live.iterator.return?.()).catch(() => undefined);
  }

  async close(): Promise<void> {
    for (const id of [...this.live.keys()]) this.drop(id);
  }
}

/** Stream errors while reading a body are worth a retry; a format error (bad data) is not. */
function isRetryableRead(error: unknown): boolean {
  if (error instanceof TidewayError) return error.retryable || isTransient(error.cause);
  return true;
}

function checkSchema(expected: Schema | undefined, actual: Schema, name: string): void {
  if (!expected || expected === actual) return;
  const same = expected.fields.length === actual.fields.length && expected.fields.every((f, i) => f.name === actual.fields[i]!.name && String(f.type) === String(actual.fields[i]!.type));
  if (!same) {
    const show = (s: Schema) => s.fields.map((f) => `${f.name}: ${String(f.type)}`).join(', ');
    throw new TidewayError('OSS_SCHEMA_MISMATCH', `${name} has columns (${show(actual)}), but the job reads (${show(expected)}) from the first object under the prefix; read objects of one schema per job`, {
      context: { connector: 'oss', object: name },
    });
  }
}
