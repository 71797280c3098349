import { makeData, RecordBatch, type Schema, Struct } from 'apache-arrow';
import { maxComputeError } from '../errors.js';
import {
  checkedNanos,
  ColumnBuilder,
  K_BINARY,
  K_BOOL,
  K_DATE,
  K_DATETIME,
  K_FLOAT32,
  K_FLOAT64,
  K_INT16,
  K_INT32,
  K_INT64,
  K_INT8,
  K_LIST,
  K_MAP,
  K_STRUCT,
  K_TIMESTAMP,
  K_UTF8,
} from './column-builder.js';
import { GREGORIAN_CUTOVER_MS, rebaseLegacyMillis } from './calendar.js';
import { crc32cUpdate, crc32cUpdateByte, crc32cUpdateInt32, crc32cUpdateInt64 } from './crc32c.js';
import { type OdpsColumn, parseOdpsType, toArrowSchema } from './types.js';
import { END_RECORD, META_CHECKSUM, META_COUNT, METRICS_END, METRICS_TEXT } from './wire.js';

/** Thrown (and caught) when a chunk ends inside a record: the record is decoded again once more bytes came. */
const NEED_MORE: unique symbol = Symbol('need more bytes');

const TWO_32 = 4294967296;
const EMPTY = new Uint8Array(0);

export interface RecordDecoderOptions {
  /** Rows the first batch's fixed-width arrays are sized for. */
  batchCapacity?: number;
  /** Where the bytes come from, for error messages (e.g. `project.table rows 0..1000`). */
  source?: string;
  /**
   * DATETIME values before 1582-10-15 are on the legacy hybrid calendar (the session did not answer
   * `odps-tunnel-date-transform: true`): convert them to proleptic Gregorian. DATE values are epoch days
   * either way (the Java SDK reads them with LocalDate.ofEpochDay whatever the answer). @default false
   */
  legacyCalendar?: boolean;
}

/**
 * Streaming decoder of the Tunnel protobuf record format straight into Arrow columns.
 *
 * Feed network chunks with `push`, pull rows with `decode(maxRows)`, and take them as a RecordBatch with
 * `takeBatch`. Every record's CRC32C is checked at its end tag; the footer's record count and crc-of-crcs
 * are checked when it arrives; `end()` rejects a stream that stopped before its footer or has bytes after
 * it. A record split across chunks is rolled back and decoded again when the rest arrives, so no row is
 * half-emitted. `resetStream` starts a new HTTP body (a resumed read) while keeping the undelivered rows.
 */
export class RecordStreamDecoder {
  /** The Arrow schema of the batches (output types). */
  readonly schema: Schema;
  private readonly builders: ColumnBuilder[];
  private readonly columnCount: number;
  private readonly source: string;
  private readonly legacyCalendar: boolean;
  private capacity: number;

  private buf: Uint8Array = EMPTY;
  /** Chunks pushed after `buf`, not yet decoded from. */
  private queue: Uint8Array[] = [];
  private queued = 0;
  private pos = 0;
  private limit = 0;
  /** Absolute offset of `buf[0]` in the current stream, for error messages. */
  private base = 0;
  /**
   * While a record that crosses a chunk boundary is decoded from a joined copy (`straddle`): how many bytes
   * of `buf` came from before the boundary; -1 otherwise. The queue still holds the bytes copied after it.
   */
  private carried = -1;

  private crc = 0;
  private crcOfCrcs = 0;
  private streamRecords = 0;
  private footer = false;
  private metricsText: string | undefined;
  private rows = 0;
  private lo = 0;
  private hi = 0;

  constructor(columns: readonly OdpsColumn[], options: RecordDecoderOptions = {}) {
    this.capacity = Math.max(8, options.batchCapacity ?? 4096);
    this.source = options.source ?? 'the download stream';
    this.legacyCalendar = options.legacyCalendar ?? false;
    this.schema = toArrowSchema(columns);
    this.builders = columns.map((c) => new ColumnBuilder(parseOdpsType(c.type), { capacity: this.capacity }));
    this.columnCount = columns.length;
  }

  /** Rows decoded and not yet taken. */
  get batchRows(): number {
    return this.rows;
  }

  /** Records decoded from the current stream. */
  get streamRows(): number {
    return this.streamRecords;
  }

  /** True once the footer arrived and matched. */
  get complete(): boolean {
    return this.footer;
  }

  /** The metrics text a version-6 stream carried in its footer (undefined when it had none). */
  get metrics(): string | undefined {
    return this.metricsText;
  }

  /** Adds the next chunk of the body. */
  push(input: Uint8Array): void {
    if (input.length === 0) return;
    if (this.footer) throw this.corrupt(`${input.length} unexpected bytes after the end of the stream`);
    // A plain Uint8Array view: Buffer's subarray builds a FastBuffer on every call, a measurable cost here.
    const chunk = input instanceof Buffer ? new Uint8Array(input.buffer, input.byteOffset, input.length) : input;
    if (this.pos === this.limit && this.queue.length === 0) {
      this.base += this.limit;
      this.buf = chunk;
      this.pos = 0;
      this.limit = chunk.length;
    } else {
      this.queue.push(chunk);
      this.queued += chunk.length;
    }
  }

  /**
   * Decodes complete records until `maxRows` rows are waiting in the batch or the buffered bytes run out.
   * Returns the rows waiting in the batch.
   */
  decode(maxRows: number): number {
    while (this.rows < maxRows && !this.footer) {
      if (this.pos === this.limit && !this.advance()) break;
      const start = this.pos;
      try {
        this.decodeRecord();
      } catch (error) {
        // Either way the record is not part of the batch: a partial one is decoded again from `start`
        // when more bytes arrive; a corrupt one never is.
        for (let i = 0; i < this.columnCount; i++) this.builders[i]!.truncate(this.rows);
        if (error !== NEED_MORE) throw error;
        this.pos = start;
        if (!this.straddle()) break;
        continue;
      }
      if (this.carried >= 0) this.unstraddle();
    }
    const trailing = this.limit - this.pos + this.queued;
    if (this.footer && trailing > 0) throw this.corrupt(`${trailing} unexpected bytes after the end of the stream`);
    return this.rows;
  }

  /** Moves on to the next queued chunk. */
  private advance(): boolean {
    const next = this.queue.shift();
    if (!next) return false;
    this.queued -= next.length;
    this.base += this.limit;
    this.buf = next;
    this.pos = 0;
    this.limit = next.length;
    return true;
  }

  /**
   * A record runs past the end of the current chunk: decode it from a copy of its start joined to the head
   * of the queued bytes. Only that record is decoded there (`unstraddle` then goes back to the queued chunk
   * itself), so a chunk boundary costs one record's copy, not a copy of everything after it. A record
   * longer than the copy doubles it on the next attempt. Returns false when no more bytes are queued.
   */
  private straddle(): boolean {
    const joinedBefore = this.carried >= 0;
    // Queued bytes already in `buf` (from an earlier, too short, attempt at the same record).
    const inBuf = joinedBefore ? this.limit - this.carried : 0;
    if (inBuf >= this.queued) return false;
    const left = this.buf.subarray(this.pos, joinedBefore ? this.carried : this.limit);
    const take = Math.min(this.queued, Math.max(4096, (this.limit - this.pos) * 2));
    const joined = new Uint8Array(left.length + take);
    joined.set(left);
    let at = left.length;
    for (let k = 0; at < joined.length; k++) {
      const head = this.queue[k]!;
      const n = Math.min(head.length, joined.length - at);
      joined.set(n === head.length ? head : head.subarray(0, n), at);
      at += n;
    }
    if (!joinedBefore) this.base += this.pos;
    this.carried = left.length;
    this.buf = joined;
    this.pos = 0;
    this.limit = joined.length;
    return true;
  }

  /** After the straddling record: drop the queued bytes it used and carry on in the queued chunk itself. */
  private unstraddle(): void {
    let used = this.pos - this.carried;
    this.base += this.carried;
    this.carried = -1;
    while (used > 0) {
      const head = this.queue[0]!;
      if (head.length <= used) {
        this.queue.shift();
        used -= head.length;
        this.queued -= head.length;
        this.base += head.length;
      } else {
        this.queue[0] = head.subarray(used);
        this.queued -= used;
        this.base += used;
        used = 0;
      }
    }
    this.buf = EMPTY;
    this.pos = 0;
    this.limit = 0;
  }

  /** Checks that the stream ended exactly at its footer (call at end of body). */
  end(): void {
    if (!this.footer) {
      // While joined, the bytes after `carried` are still counted in `queued`.
      const partial = (this.carried >= 0 ? this.carried : this.limit) - this.pos + this.queued;
      throw this.corrupt(
        `the stream ended after ${this.streamRecords} records without its end marker` + (partial > 0 ? ` (${partial} bytes of an incomplete record)` : ''),
        true,
      );
    }
  }

  /** Starts a new stream (a resumed read) keeping the rows not yet taken. */
  resetStream(): void {
    this.queue = [];
    this.queued = 0;
    this.buf = EMPTY;
    this.pos = 0;
    this.limit = 0;
    this.base = 0;
    this.carried = -1;
    this.crcOfCrcs = 0;
    this.streamRecords = 0;
    this.footer = false;
    this.metricsText = undefined;
  }

  /** The rows decoded so far as one RecordBatch (or null when there are none, unless `allowEmpty`). */
  takeBatch(nextCapacity?: number, allowEmpty = false): RecordBatch | null {
    if (this.rows === 0 && !allowEmpty) return null;
    if (nextCapacity !== undefined) this.capacity = Math.max(8, nextCapacity);
    const children = this.builders.map((b) => b.finish(this.capacity));
    const data = makeData({ type: new Struct(this.schema.fields), length: this.rows, nullCount: 0, children });
    this.rows = 0;
    return new RecordBatch(this.schema, data);
  }

  private corrupt(what: string, retryable = true) {
    return maxComputeError('MAXCOMPUTE_CORRUPT_STREAM', `corrupt MaxCompute record stream from ${this.source}: ${what}`, {
      retryable,
      context: { byteOffset: this.base + this.pos, record: this.streamRecords },
    });
  }

  private decodeRecord(): void {
    this.crc = 0;
    const rows = this.rows;
    let fields = 0;
    for (;;) {
      const field = this.varint32() >>> 3;
      if (field === END_RECORD) {
        const stored = this.varint32() >>> 0;
        if (stored !== this.crc) {
          throw this.corrupt(`record ${this.streamRecords} has CRC32C ${stored} on the wire but its bytes give ${this.crc}`);
        }
        for (let i = 0; i < this.columnCount; i++) {
          const b = this.builders[i]!;
          if (b.length === rows) b.appendNull();
        }
        this.crcOfCrcs = crc32cUpdateInt32(this.crcOfCrcs, this.crc);
        this.streamRecords++;
        this.rows = rows + 1;
        return;
      }
      if (field === META_COUNT) {
        if (fields > 0) throw this.corrupt('the end-of-stream marker appears inside a record');
        this.readFooter();
        return;
      }
      if (field < 1 || field > this.columnCount) {
        throw this.corrupt(`field tag ${field} is not a column index (the stream has ${this.columnCount} columns)`);
      }
      const b = this.builders[field - 1]!;
      if (b.length !== rows) throw this.corrupt(`column ${field} appears twice in record ${this.streamRecords}`);
      this.crc = crc32cUpdateInt32(this.crc, field);
      this.readValue(b);
      fields++;
    }
  }

  /**
   * The footer: the record count, then (tunnel version 6, optional) the metrics section, then the
   * crc-of-crcs. The metrics CRC runs over the int32 tag number 1 and the text's bytes, starting from zero
   * as a record's CRC does (the Java SDK's ProtobufRecordStreamReader feeds the same running checksum it
   * resets after every record). Stricter than the SDK in two places, so that no check can be skipped: a
   * metrics text must be followed by its CRC, and the crc-of-crcs must follow. An end tag without text is
   * accepted (its CRC is then the empty checksum, 0), as the SDK accepts it.
   */
  private readFooter(): void {
    this.varint64();
    const count = zigzagToNumber(this.lo, this.hi);
    let field = this.varint32() >>> 3;
    let metrics: string | undefined;
    let metricsCrc = 0;
    if (field === METRICS_TEXT) {
      metricsCrc = crc32cUpdateInt32(metricsCrc, METRICS_TEXT);
      const n = this.varint32() >>> 0;
      const p = this.pos;
      if (this.limit - p < n) throw NEED_MORE;
      metricsCrc = crc32cUpdate(metricsCrc, this.buf, p, p + n);
      metrics = Buffer.from(this.buf.buffer, this.buf.byteOffset + p, n).toString('utf8');
      this.pos = p + n;
      field = this.varint32() >>> 3;
      if (field !== METRICS_END) throw this.corrupt(`the metrics section is followed by field ${field}, not its end marker (${METRICS_END})`);
    }
    if (field === METRICS_END) {
      const stored = this.varint32() >>> 0;
      if (stored !== metricsCrc) throw this.corrupt(`the metrics section has CRC32C ${stored} on the wire but its bytes give ${metricsCrc}`);
      field = this.varint32() >>> 3;
    }
    if (field !== META_CHECKSUM) throw this.corrupt(`the record count is followed by field ${field}, neither the metrics section nor the stream checksum`);
    const checksum = this.varint32() >>> 0;
    if (count !== this.streamRecords) {
      throw this.corrupt(`the stream says it holds ${count} records but ${this.streamRecords} arrived`);
    }
    if (checksum !== this.crcOfCrcs) {
      throw this.corrupt(`the stream checksum is ${checksum} but the records give ${this.crcOfCrcs}`);
    }
    this.metricsText = metrics;
    this.footer = true;
  }

  private readValue(b: ColumnBuilder): void {
    if (b.length === b.capacity) b.grow();
    const i = b.length;
    switch (b.kind) {
      case K_INT8:
      case K_INT16:
      case K_INT32:
      case K_DATE: {
        this.sint64();
        const lo = this.lo;
        if (this.hi !== lo >> 31) throw this.outOfRange(b);
        this.crc = crc32cUpdateInt64(this.crc, lo, this.hi);
        if (b.kind === K_INT32 || b.kind === K_DATE) b.i32[i] = lo;
        else if (b.kind === K_INT8) {
          if (lo < -128 || lo > 127) throw this.outOfRange(b);
          b.bytes[i] = lo;
        } else {
          if (lo < -32768 || lo > 32767) throw this.outOfRange(b);
          b.bytes[2 * i] = lo;
          b.bytes[2 * i + 1] = lo >> 8;
        }
        break;
      }
      case K_INT64:
      case K_DATETIME: {
        this.sint64();
        this.crc = crc32cUpdateInt64(this.crc, this.lo, this.hi);
        if (b.kind === K_DATETIME && this.legacyCalendar && this.hi < 0) {
          const ms = this.hi * TWO_32 + (this.lo >>> 0);
          if (ms < GREGORIAN_CUTOVER_MS) {
            const rebased = rebaseLegacyMillis(ms);
            const hi = Math.floor(rebased / TWO_32);
            this.lo = (rebased - hi * TWO_32) | 0;
            this.hi = hi | 0;
          }
        }
        b.i32[2 * i] = this.lo;
        b.i32[2 * i + 1] = this.hi;
        break;
      }
      case K_FLOAT64:
      case K_FLOAT32: {
        const n = b.width;
        const p = this.pos;
        if (this.limit - p < n) throw NEED_MORE;
        this.crc = crc32cUpdate(this.crc, this.buf, p, p + n);
        copyBytes(this.buf, p, n, b.bytes, n * i);
        this.pos = p + n;
        break;
      }
      case K_BOOL: {
        const v = this.varint32();
        this.crc = crc32cUpdateByte(this.crc, v !== 0 ? 1 : 0);
        if (v !== 0) b.bytes[i >>> 3]! |= 1 << (i & 7);
        break;
      }
      case K_UTF8:
      case K_BINARY: {
        const n = this.varint32() >>> 0;
        const p = this.pos;
        if (this.limit - p < n) throw NEED_MORE;
        this.crc = crc32cUpdate(this.crc, this.buf, p, p + n);
        const at = b.dataPos;
        if (at + n > b.bytes.length) b.reserveBytes(n);
        copyBytes(this.buf, p, n, b.bytes, at);
        b.dataPos = at + n;
        b.offsets[i + 1] = at + n;
        this.pos = p + n;
        break;
      }
      case K_TIMESTAMP: {
        this.sint64();
        const lo = this.lo;
        const hi = this.hi;
        const raw = this.varint32();
        const nanos = (raw >>> 1) ^ -(raw & 1);
        if (nanos < 0 || nanos > 999_999_999) throw this.corrupt(`a TIMESTAMP has ${nanos} nanoseconds (0..999999999 expected)`);
        this.crc = crc32cUpdateInt32(crc32cUpdateInt64(this.crc, lo, hi), nanos);
        const seconds = hi * TWO_32 + (lo >>> 0);
        b.i64[i] = checkedNanos(BigInt(seconds) * 1_000_000_000n + BigInt(nanos));
        break;
      }
      case K_LIST: {
        const child = b.children[0]!;
        this.readArray(child);
        b.offsets[i + 1] = child.length;
        break;
      }
      case K_MAP: {
        const keys = b.children[0]!;
        const values = b.children[1]!;
        const k = this.readArray(keys);
        const v = this.readArray(values);
        if (k !== v) throw this.corrupt(`a MAP value has ${k} keys but ${v} values`);
        b.offsets[i + 1] = keys.length;
        break;
      }
      case K_STRUCT: {
        for (const child of b.children) {
          if (this.varint32() !== 0) child.appendNull();
          else this.readValue(child);
        }
        break;
      }
      default:
        throw this.corrupt(`no decoder for column kind ${b.kind}`, false);
    }
    b.validity[i >>> 3]! |= 1 << (i & 7);
    b.length = i + 1;
  }

  private readArray(child: ColumnBuilder): number {
    const n = this.varint32() >>> 0;
    for (let k = 0; k < n; k++) {
      if (this.varint32() !== 0) child.appendNull();
      else this.readValue(child);
    }
    return n;
  }

  private outOfRange(b: ColumnBuilder) {
    return this.corrupt(`a value ${zigzagToNumber(this.lo, this.hi)} does not fit its ${b.odpsType.kind.toUpperCase()} column`);
  }

  /** Reads an unsigned varint of at most 32 bits. */
  private varint32(): number {
    const buf = this.buf;
    const limit = this.limit;
    let p = this.pos;
    if (p >= limit) throw NEED_MORE;
    let b = buf[p++]!;
    let v = b & 0x7f;
    if (b >= 0x80) {
      for (let shift = 7; ; shift += 7) {
        if (p >= limit) throw NEED_MORE;
        b = buf[p++]!;
        if (shift === 28) {
          if (b > 0x0f) throw this.corrupt('a 32-bit varint is longer than 5 bytes');
          v |= b << 28;
          break;
        }
        v |= (b & 0x7f) << shift;
        if (b < 0x80) break;
      }
    }
    this.pos = p;
    return v;
  }

  /** Reads an unsigned varint of up to 64 bits into `lo`/`hi`. */
  private varint64(): void {
    const buf = this.buf;
    const limit = this.limit;
    let p = this.pos;
    let lo = 0;
    let hi = 0;
    let b: number;
    for (let shift = 0; shift < 28; shift += 7) {
      if (p >= limit) throw NEED_MORE;
      b = buf[p++]!;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = p;
        this.lo = lo;
        this.hi = 0;
        return;
      }
    }
    if (p >= limit) throw NEED_MORE;
    b = buf[p++]!;
    lo |= (b & 0x7f) << 28;
    hi = (b & 0x7f) >>> 4;
    if (b >= 0x80) {
      for (let shift = 3; ; shift += 7) {
        if (shift > 31) throw this.corrupt('a varint is longer than 10 bytes');
        if (p >= limit) throw NEED_MORE;
        b = buf[p++]!;
        hi |= (b & 0x7f) << shift;
        if (b < 0x80) break;
      }
    }
    this.pos = p;
    this.lo = lo;
    this.hi = hi;
  }

  /** Reads a zig-zag sint64 into `lo`/`hi` as two's-complement words. */
  private sint64(): void {
    this.varint64();
    const lo = this.lo;
    const hi = this.hi;
    const sign = -(lo & 1);
    this.lo = ((lo >>> 1) | (hi << 31)) ^ sign;
    this.hi = (hi >>> 1) ^ sign;
  }
}

/** Short copies by hand: a subarray view per field costs more than the copy itself. */
function copyBytes(src: Uint8Array, from: number, n: number, dst: Uint8Array, to: number): void {
  if (n < 48) {
    for (let k = 0; k < n; k++) dst[to + k] = src[from + k]!;
  } else {
    dst.set(src.subarray(from, from + n), to);
  }
}

function zigzagToNumber(lo: number, hi: number): number {
  const sign = -(lo & 1);
  const l = (((lo >>> 1) | (hi << 31)) ^ sign) >>> 0;
  const h = (hi >>> 1) ^ sign;
  return h * TWO_32 + l;
}

/** Decodes one complete record stream (all of it must be present). */
export function decodeRecords(columns: readonly OdpsColumn[], bytes: Uint8Array, options: RecordDecoderOptions = {}): RecordBatch {
  const decoder = new RecordStreamDecoder(columns, options);
  decoder.push(bytes);
  decoder.decode(Number.MAX_SAFE_INTEGER);
  decoder.end();
  return decoder.takeBatch(undefined, true)!;
}
