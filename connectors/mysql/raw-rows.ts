import { TextDecoder } from 'node:util';

/** Text of one value in a character set other than UTF-8. */
type Decode = (bytes: Uint8Array) => string;
import { makeData, RecordBatch, type Schema, Struct, type TypeMap } from 'apache-arrow';
import type { Connection } from 'mysql2/promise';
import { type ColumnInfo, numericValues } from './types.js';

/**
 * The rows of one result, as the text protocol sent them: each row packet kept as it arrived (a slice of
 * the socket's chunk, no copy), and each value's byte range found once. Values become Arrow columns straight
 * from those bytes (buildRawBatch): a text value is copied as the UTF-8 the server sent, a number or a date
 * is parsed from its digits, with no JavaScript string or array per row in between, where the driver's own
 * row parser made a string of every value and an array of every row.
 */
export class RawRows {
  count = 0;
  private bufs: Buffer[] = [];
  /** Per row and column: where the value starts in its row's buffer, or -1 for NULL. */
  private starts: Int32Array;
  private ends: Int32Array;

  /**
   * Per column, a decoder when the server sends its text in a character set other than UTF-8 (the
   * connection asks for utf8mb4, but a server may be set to ignore that): such values are decoded, and
   * re-encoded as UTF-8 for Arrow. Binary columns, and text sent with the binary set, are taken as they are.
   */
  private decoders: (Decode | undefined)[] = [];

  constructor(readonly columns: number) {
    this.starts = new Int32Array(columns * 1024);
    this.ends = new Int32Array(columns * 1024);
  }

  /** The result's columns, with their character sets as the driver names them (`utf8`, `latin1`, `binary` ...). */
  setEncodings(fields: readonly { name?: string; encoding?: string }[]): void {
    this.decoders = fields.map(({ name, encoding }, column) => {
      if (encoding === undefined || encoding === 'utf8' || encoding === 'utf8mb4' || encoding === 'cesu8' || encoding === 'binary') return undefined;
      // As the driver decodes them: Node's own decoding where it has one (latin1, ascii, ucs2), else the WHATWG one.
      if (Buffer.isEncoding(encoding)) return (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(encoding);
      try {
        const decoder = new TextDecoder(encoding);
        return (bytes: Uint8Array) => decoder.decode(bytes);
      } catch {
        throw new RangeError(
          `column "${name ?? column + 1}" arrives in the character set ${encoding}, which Tideway cannot decode; make the server send utf8mb4 results ` +
            '(SET GLOBAL character_set_results = utf8mb4, or remove skip-character-set-client-handshake from its configuration)',
        );
      }
    });
  }

  /** The decoder of a text column that does not arrive as UTF-8, if any. */
  decoder(column: number): Decode | undefined {
    return this.decoders[column];
  }

  /** Adds the row packet `buf[from, to)` (after its 4-byte header): a length-encoded string per column. */
  add(buf: Buffer, from: number, to: number): void {
    const row = this.count;
    const base = row * this.columns;
    if (base + this.columns > this.starts.length) {
      const starts = new Int32Array(this.starts.length * 2);
      starts.set(this.starts);
      this.starts = starts;
      const ends = new Int32Array(this.ends.length * 2);
      ends.set(this.ends);
      this.ends = ends;
    }
    let p = from;
    for (let c = 0; c < this.columns; c++) {
      const first = buf[p]!;
      let length: number;
      if (first < 0xfb) {
        length = first;
        p += 1;
      } else if (first === 0xfb) {
        this.starts[base + c] = -1;
        this.ends[base + c] = -1;
        p += 1;
        continue;
      } else if (first === 0xfc) {
        length = buf[p + 1]! | (buf[p + 2]! << 8);
        p += 3;
      } else if (first === 0xfd) {
        length = buf[p + 1]! | (buf[p + 2]! << 8) | (buf[p + 3]! << 16);
        p += 4;
      } else {
        length = buf.readUInt32LE(p + 1) + buf.readUInt32LE(p + 5) * 4_294_967_296;
        p += 9;
      }
      this.starts[base + c] = p;
      this.ends[base + c] = p + length;
      p += length;
    }
    if (p > to) throw new RangeError(`a row packet of ${to - from} bytes holds fewer values than the ${this.columns} columns of its result`);
    this.bufs.push(buf);
    this.count++;
  }

  /** Moves the first `n` rows (at most `count`) into a RawRows of their own; this keeps the rest. */
  takeFirst(n: number): RawRows {
    const taken = Math.min(n, this.count);
    const first = new RawRows(this.columns);
    first.decoders = this.decoders;
    const values = taken * this.columns;
    // Never empty: add() grows these by doubling.
    first.starts = this.starts.slice(0, Math.max(values, this.columns));
    first.ends = this.ends.slice(0, Math.max(values, this.columns));
    first.bufs = this.bufs.slice(0, taken);
    first.count = taken;
    this.starts.copyWithin(0, values, this.count * this.columns);
    this.ends.copyWithin(0, values, this.count * this.columns);
    this.bufs = this.bufs.slice(taken);
    this.count -= taken;
    return first;
  }

  isNull(row: number, column: number): boolean {
    return this.starts[row * this.columns + column] === -1;
  }

  /** The value as the driver would have given it: a string, a Buffer for a binary column, or null. */
  value(row: number, column: number, binary: boolean): string | Buffer | null {
    const at = row * this.columns + column;
    const start = this.starts[at]!;
    if (start === -1) return null;
    const buf = this.bufs[row]!;
    if (binary) return Buffer.from(buf.subarray(start, this.ends[at]!));
    const decoder = this.decoders[column];
    return decoder ? decoder(buf.subarray(start, this.ends[at]!)) : buf.toString('utf8', start, this.ends[at]!);
  }

  /** The value's bytes as latin1 text: digits, signs and dates need no UTF-8 decoding. */
  ascii(row: number, column: number): string {
    const at = row * this.columns + column;
    return this.bufs[row]!.toString('latin1', this.starts[at]!, this.ends[at]!);
  }

  bytes(row: number, column: number): [Buffer, number, number] {
    const at = row * this.columns + column;
    return [this.bufs[row]!, this.starts[at]!, this.ends[at]!];
  }
}

type QueryInternals = {
  row(packet: PacketLike, connection: unknown): unknown;
  on(event: 'fields', listener: (fields: { name?: string; encoding?: string }[]) => void): void;
};

interface PacketLike {
  buffer: Buffer;
  offset: number;
  end: number;
  isEOF(): boolean;
}

interface CoreConnection {
  query(options: object, callback: (error: Error | null) => void): QueryInternals;
  pause(): void;
  resume(): void;
}

/**
 * Starts `sql` on `connection` through mysql2's text protocol, with the driver's row parser replaced by
 * `onRow` for this one query (the connection, its queue, errors and the end of the result stay the driver's);
 * `onEnd` is called once, with the error if the query failed.
 */
function startRaw(connection: Connection, sql: string, rows: RawRows, onRow: () => void, onEnd: (error: Error | undefined) => void): CoreConnection {
  const core = (connection as unknown as { connection: CoreConnection }).connection;
  let failure: Error | undefined;
  const query = core.query({ sql, rowsAsArray: true }, (error) => onEnd(error ?? failure));
  query.on('fields', (fields: { name?: string; encoding?: string }[]) => {
    try {
      rows.setEncodings(fields);
    } catch (error) {
      failure ??= error as Error;
    }
  });
  const driverRow = Object.getPrototypeOf(query).row as QueryInternals['row'];
  // The query's state machine asks `this.row` for each row packet; the driver's own handles the end of the
  // result (EOF/OK packet), with no row of ours in its list.
  const rawRow = function (this: QueryInternals, packet: PacketLike, conn: unknown): unknown {
    if (packet.isEOF()) return driverRow.call(this, packet, conn);
    try {
      rows.add(packet.buffer, packet.offset, packet.end);
      onRow();
    } catch (error) {
      failure ??= error as Error;
    }
    return rawRow;
  };
  query.row = rawRow;
  return core;
}

/** Runs `sql` and resolves with all its rows, raw (a keyset page). */
export function queryRaw(connection: Connection, sql: string, columns: number): Promise<RawRows> {
  const rows = new RawRows(columns);
  return new Promise<RawRows>((resolve, reject) => {
    startRaw(connection, sql, rows, () => undefined, (error) => (error ? reject(error) : resolve(rows)));
  });
}

/**
 * One query's rows as they arrive, taken in chunks (stream mode). The connection stops reading the socket
 * while `highWater` rows wait, so memory stays bounded however long the result.
 */
export class RawStream {
  private readonly rows: RawRows;
  private readonly core: CoreConnection;
  private ended = false;
  private error: Error | undefined;
  private paused = false;
  /** Rows the pending take asks for: the stream keeps reading until it has them, above its high-water mark. */
  private wanted = 0;
  private wake: (() => void) | undefined;

  constructor(
    readonly connection: Connection,
    sql: string,
    columns: number,
    private readonly highWater: number,
  ) {
    this.rows = new RawRows(columns);
    this.core = startRaw(
      connection,
      sql,
      this.rows,
      () => {
        if (this.rows.count >= Math.max(this.highWater, this.wanted) && !this.paused) {
          this.paused = true;
          this.core.pause();
        }
        if (this.wake && this.rows.count >= this.wanted) this.notify();
      },
      (error) => {
        this.ended = true;
        this.error = error;
        this.notify();
      },
    );
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** The next `n` rows, fewer only at the end of the result (`done`). */
  async take(n: number): Promise<{ rows: RawRows; done: boolean }> {
    this.wanted = n;
    while (this.rows.count < n && !this.ended) {
      if (this.paused) {
        this.paused = false;
        this.core.resume();
        continue;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    if (this.error) throw this.error;
    const rows = this.rows.takeFirst(n);
    if (this.paused && this.rows.count < this.highWater) {
      this.paused = false;
      this.core.resume();
    }
    return { rows, done: this.ended && this.rows.count === 0 };
  }
}

/**
 * Arrow columns from raw rows, column by column into typed arrays. Throws a RangeError naming the value when
 * one does not fit.
 */
export function buildRawBatch(schema: Schema, columns: readonly ColumnInfo[], rows: RawRows): RecordBatch {
  const length = rows.count;
  const children = columns.map((column, c) => {
    const field = schema.fields[c]!;
    let nullCount = 0;
    const validity = new Uint8Array((length + 7) >> 3);
    for (let i = 0; i < length; i++) {
      if (rows.isNull(i, c)) nullCount++;
      else validity[i >> 3]! |= 1 << (i & 7);
    }
    const make = (data: Record<string, unknown>) =>
      makeData({ type: field.type, length, nullCount, nullBitmap: nullCount > 0 ? validity : new Uint8Array(0), ...data } as never);
    const numbers = numericValues(column.kind, length, (i) => (rows.isNull(i, c) ? null : rows.ascii(i, c)));
    if (numbers) return make({ data: numbers });
    switch (column.kind) {
      case 'bits': {
        const data = new BigUint64Array(length);
        for (let i = 0; i < length; i++) {
          if (rows.isNull(i, c)) continue;
          const [buf, start, end] = rows.bytes(i, c);
          let v = 0n;
          for (let k = start; k < end; k++) v = (v << 8n) | BigInt(buf[k]!);
          data[i] = v;
        }
        return make({ data });
      }
      case 'bool': {
        // BIT(1): the value is the raw byte.
        const data = new Uint8Array((length + 7) >> 3);
        for (let i = 0; i < length; i++) {
          if (rows.isNull(i, c)) continue;
          const [buf, start, end] = rows.bytes(i, c);
          let truthy = false;
          for (let k = start; k < end && !truthy; k++) truthy = buf[k] !== 0;
          if (truthy) data[i >> 3]! |= 1 << (i & 7);
        }
        return make({ data });
      }
      case 'text':
      case 'binary': {
        const decoder = column.kind === 'text' ? rows.decoder(c) : undefined;
        if (decoder) {
          const texts: (Buffer | null)[] = [];
          for (let i = 0; i < length; i++) {
            const [buf, start, end] = rows.bytes(i, c);
            texts.push(rows.isNull(i, c) ? null : Buffer.from(decoder(buf.subarray(start, end)), 'utf8'));
          }
          const offsets = new Int32Array(length + 1);
          for (let i = 0; i < length; i++) offsets[i + 1] = offsets[i]! + (texts[i]?.length ?? 0);
          return make({ valueOffsets: offsets, data: Buffer.concat(texts.filter((t): t is Buffer => t !== null)) });
        }
        // The bytes as sent: UTF-8 for text (the connection's character set is utf8mb4), raw for binary.
        const offsets = new Int32Array(length + 1);
        let total = 0;
        for (let i = 0; i < length; i++) {
          if (!rows.isNull(i, c)) {
            const [, start, end] = rows.bytes(i, c);
            total += end - start;
          }
          offsets[i + 1] = total;
        }
        const data = new Uint8Array(total);
        for (let i = 0; i < length; i++) {
          if (rows.isNull(i, c)) continue;
          const [buf, start, end] = rows.bytes(i, c);
          data.set(buf.subarray(start, end), offsets[i]!);
        }
        return make({ valueOffsets: offsets, data });
      }
    }
    throw new Error(`no Arrow builder for column kind ${column.kind}`);
  });
  const data = makeData({ type: new Struct(schema.fields), length, nullCount: 0, children });
  return new RecordBatch(schema as Schema<TypeMap>, data);
}
