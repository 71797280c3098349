import type { Readable } from 'node:stream';
import { makeData, RecordBatch, type Schema, Struct, type TypeMap } from 'apache-arrow';
import { to as copyTo } from 'pg-copy-streams';
import { TidewayError } from '../../src/api/errors.js';
import type { Logger } from '../../src/api/logger.js';
import type { SplitChunk, SplitReader } from '../../src/api/source.js';
import { type Endpoint, literal, type PgClient, queryError } from './connection.js';
import { CopyBinaryDecoder } from './copy-decoder.js';
import { columnRef, fromDomain, fullSchema, keyLiteral, keyText, outputSchema, type ReadPlan, selectList } from './plan.js';
import type { PostgresSplit } from './source.js';

/** One open COPY TO STDOUT of a split, positioned right after `position`. */
interface OpenCopy {
  client: PgClient;
  stream: Readable;
  decoder: CopyBinaryDecoder;
  /** JSON of the split's `after` (and rows) that this stream continues from. */
  position: string;
  ended: boolean;
  error: Error | undefined;
  wake: (() => void) | undefined;
  /** Rows still to skip (query splits resumed by count). */
  skip: number;
}

/**
 * Reads splits through `COPY (SELECT ... ORDER BY key) TO STDOUT (FORMAT binary)`, decoded into Arrow as
 * bytes arrive. The stream stays open between chunks; TCP backpressure holds the server while the reader is
 * not reading, so memory stays at about one chunk whatever the split's size. Each split runs in its own
 * REPEATABLE READ transaction that imports the job's exported snapshot.
 */
export class PostgresSplitReader implements SplitReader<PostgresSplit> {
  private readonly open = new Map<string, OpenCopy>();
  private readonly idle: PgClient[] = [];
  private readonly schema: Schema;
  private readonly output: Schema;
  private readonly outputIndexes: number[];
  private readonly keyIndexes: number[];

  constructor(
    private readonly connect: () => Promise<PgClient>,
    private readonly plan: ReadPlan,
    private readonly endpoint: Endpoint,
    private readonly logger: Logger,
    /** The job's snapshot from `prepare`; it wins over the one a split carries from an earlier run. */
    private readonly snapshot?: string,
  ) {
    this.schema = fullSchema(plan);
    this.output = outputSchema(plan);
    this.outputIndexes = plan.columns.flatMap((c, i) => (c.output ? [i] : []));
    this.keyIndexes = [];
  }

  /** Key column indexes of a split: the partition column then the tie-breakers (NULL splits: tie-breakers only). */
  private keys(split: PostgresSplit): number[] {
    if (this.plan.isQuery) return [];
    const partition = this.plan.partition && !split.nulls ? [this.plan.partition.index] : [];
    return [...partition, ...this.plan.tiebreak];
  }

  /** The split's query from its current position. */
  sql(split: PostgresSplit): string {
    const plan = this.plan;
    if (plan.isQuery) return `SELECT ${selectList(plan)} FROM ${plan.from}`;
    const conditions: string[] = [];
    if (plan.where) conditions.push(`(${plan.where})`);
    if (plan.partition) {
      const column = columnRef(plan, plan.partition.index);
      if (split.nulls) conditions.push(`${column} IS NULL`);
      else {
        conditions.push(`${column} IS NOT NULL`);
        if (split.lo !== null) conditions.push(`${column} >= ${fromDomain(plan.partition.domain, split.lo)}`);
        if (split.hi !== null) conditions.push(`${column} < ${fromDomain(plan.partition.domain, split.hi)}`);
      }
    }
    const keys = this.keys(split);
    if (split.after) {
      if (split.after.length !== keys.length) {
        throw new TidewayError('POSTGRES_BAD_SPLIT', `split ${split.splitId} has a keyset position of ${split.after.length} values where the table's key has ${keys.length}; the table changed since the checkpoint, so the rest cannot be read exactly once: start over with --fresh, with data_save_mode set on the sink to replace this job's earlier output (overwrite, or truncate for a table) so that no row is written twice`);
      }
      const left = keys.map((k) => columnRef(plan, k)).join(', ');
      const right = keys.map((k, i) => keyLiteral(split.after![i]!, plan.columns[k]!.typeText)).join(', ');
      conditions.push(`(${left}) > (${right})`);
    }
    const where = conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
    const order = keys.length > 0 ? ` ORDER BY ${keys.map((k) => columnRef(plan, k)).join(', ')}` : '';
    return `SELECT ${selectList(plan)} FROM ${plan.from}${where}${order}`;
  }

  async read(split: PostgresSplit, options: { maxRows: number; signal: AbortSignal }): Promise<SplitChunk<PostgresSplit>> {
    const position = JSON.stringify([split.after, split.rows]);
    let copy = this.open.get(split.splitId);
    if (copy && copy.position !== position) {
      await this.discard(split.splitId);
      copy = undefined;
    }
    copy ??= await this.start(split);
    const batches: RecordBatch[] = [];
    let next = split;
    let rows = 0;
    while (rows < options.maxRows) {
      if (options.signal.aborted) throw options.signal.reason ?? new Error('aborted');
      // The decoder hands out full batches; once no more bytes will come, the rows it completed too.
      const batch = copy.decoder.take(options.maxRows - rows) ?? (copy.ended ? copy.decoder.flush() : undefined);
      if (batch) {
        let emit: RecordBatch | undefined = batch;
        if (copy.skip > 0) {
          const skipped = Math.min(copy.skip, batch.numRows);
          copy.skip -= skipped;
          emit = skipped === batch.numRows ? undefined : batch.slice(skipped);
        }
        if (emit) {
          next = this.advance(next, emit);
          batches.push(this.project(emit));
          rows += emit.numRows;
        }
        continue;
      }
      if (copy.decoder.ended || copy.ended) break;
      const chunk = await this.nextChunk(copy, split);
      if (chunk === null) {
        copy.ended = true;
        continue;
      }
      copy.decoder.push(chunk);
    }
    const finished = copy.decoder.ended || (copy.ended && copy.decoder.buffered === 0);
    if (finished) await this.finish(split.splitId);
    else copy.position = JSON.stringify([next.after, next.rows]);
    return { batches, next, finished };
  }

  /** The split moved past the last row of `batch`. */
  private advance(split: PostgresSplit, batch: RecordBatch): PostgresSplit {
    const keys = this.keys(split);
    const last = batch.numRows - 1;
    const after = keys.length === 0 ? null : keys.map((k) => keyText(batch.data.children[k]!, last, this.plan.columns[k]!.kind));
    return { ...split, after, rows: split.rows + batch.numRows };
  }

  private project(batch: RecordBatch): RecordBatch {
    if (this.outputIndexes.length === this.plan.columns.length) return batch;
    const children = this.outputIndexes.map((i) => batch.data.children[i]!);
    return new RecordBatch(this.output as Schema<TypeMap>, makeData({ type: new Struct(this.output.fields), length: batch.numRows, nullCount: 0, children }));
  }

  private async start(split: PostgresSplit): Promise<OpenCopy> {
    const client = this.idle.pop() ?? (await this.connect());
    const sql = this.sql(split);
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const snapshot = this.snapshot ?? split.snapshot;
      if (snapshot) {
        try {
          await client.query(`SET TRANSACTION SNAPSHOT ${literal(snapshot)}`);
        } catch (error) {
          throw new TidewayError(
            'POSTGRES_SNAPSHOT_GONE',
            `split ${split.splitId} cannot import the job's snapshot ${snapshot} on ${this.endpoint.host} (${(error as Error).message}): the transaction that exported it has ended, so the rows would not be read as of one moment. Resume the job: the resumed run exports a new snapshot`,
            { cause: error, context: { connector: 'postgres', splitId: split.splitId }, retryable: true },
          );
        }
      }
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      this.idle.push(client);
      throw error instanceof TidewayError ? error : queryError(error, `starting split ${split.splitId}`, this.endpoint, { splitId: split.splitId });
    }
    const stream = client.query(copyTo(`COPY (${sql}) TO STDOUT (FORMAT binary)`));
    const copy: OpenCopy = {
      client,
      stream,
      decoder: new CopyBinaryDecoder(this.schema, this.plan.columns.map((c) => c.kind)),
      position: JSON.stringify([split.after, split.rows]),
      ended: false,
      error: undefined,
      wake: undefined,
      skip: this.plan.isQuery ? split.rows : 0,
    };
    if (copy.skip > 0) this.logger.info('postgres: resuming a query split by skipping the rows it had emitted', { splitId: split.splitId, rows: copy.skip });
    stream.on('readable', () => copy.wake?.());
    stream.on('end', () => {
      copy.ended = true;
      copy.wake?.();
    });
    stream.on('error', (error: Error) => {
      copy.error = error;
      copy.wake?.();
    });
    this.open.set(split.splitId, copy);
    return copy;
  }

  private async nextChunk(copy: OpenCopy, split: PostgresSplit): Promise<Buffer | null> {
    for (;;) {
      if (copy.error) {
        const error = copy.error;
        await this.discard(split.splitId);
        throw queryError(error, `reading split ${split.splitId} of ${this.plan.isQuery ? 'the query' : this.plan.from.replace(/ AS tideway_t$/, '')}`, this.endpoint, { splitId: split.splitId });
      }
      const chunk = copy.stream.read() as Buffer | null;
      if (chunk !== null) return chunk;
      if (copy.ended) return null;
      await new Promise<void>((resolve) => (copy.wake = resolve));
      copy.wake = undefined;
    }
  }

  /** The split is done: end its transaction and keep the connection for the next split. */
  private async finish(splitId: string): Promise<void> {
    const copy = this.open.get(splitId);
    if (!copy) return;
    this.open.delete(splitId);
    if (!copy.ended) await new Promise<void>((resolve) => (copy.stream.readableEnded ? resolve() : (copy.stream.once('end', resolve), copy.stream.once('error', () => resolve()), copy.stream.resume())));
    await copy.client.query('COMMIT');
    this.idle.push(copy.client);
  }

  /** Drops a stream that will not be read on: its connection is closed (the server ends the COPY and the transaction). */
  private async discard(splitId: string): Promise<void> {
    const copy = this.open.get(splitId);
    if (!copy) return;
    this.open.delete(splitId);
    destroyClient(copy.client);
  }

  async close(): Promise<void> {
    for (const id of [...this.open.keys()]) await this.discard(id);
    for (const client of this.idle.splice(0)) await client.end().catch(() => undefined);
  }
}

function destroyClient(client: PgClient): void {
  const connection = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection;
  connection?.stream?.destroy();
  client.end().catch(() => undefined);
}
