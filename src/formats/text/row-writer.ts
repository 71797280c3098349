import { type Data, type Field, type Float, type Int, Precision, type Timestamp, TimeUnit, Type } from 'apache-arrow';
import { cellWriter, type TextStyle } from './arrow-to-text.js';
import { formatDate, formatTimestamp } from './temporal.js';

/**
 * Writes JSON Lines or CSV rows straight into UTF-8 bytes. The common column types (integers, floats,
 * booleans, strings, timestamps) are written without creating a JavaScript string per value: digits are
 * written as bytes, and strings are copied from Arrow's UTF-8 buffer unless they need escaping or quoting.
 * Every other type goes through the text mapping in arrow-to-text.ts, which this module must match.
 */

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const utf8 = new TextEncoder();

/** A growable output buffer; a new one per batch, since the bytes handed out must stay valid. */
export class ByteSink {
  buf: Uint8Array;
  pos = 0;

  constructor(capacity: number) {
    this.buf = new Uint8Array(Math.max(capacity, 1024));
  }

  ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  bytes(bytes: Uint8Array): void {
    const n = bytes.length;
    this.ensure(n);
    const buf = this.buf;
    let pos = this.pos;
    if (n < 32) for (let i = 0; i < n; i++) buf[pos++] = bytes[i]!;
    else {
      buf.set(bytes, pos);
      pos += n;
    }
    this.pos = pos;
  }

  range(source: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    if (n < 32) {
      const buf = this.buf;
      let pos = this.pos;
      for (let i = start; i < end; i++) buf[pos++] = source[i]!;
      this.pos = pos;
    } else {
      this.buf.set(source.subarray(start, end), this.pos);
      this.pos += n;
    }
  }

  string(text: string): void {
    const n = text.length;
    this.ensure(n * 3);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) {
        this.pos = pos + utf8.encodeInto(text.slice(i), buf.subarray(pos)).written;
        return;
      }
      buf[pos++] = c;
    }
    this.pos = pos;
  }

  /** An integer (|n| <= 2^53) as decimal digits. */
  int(value: number): void {
    this.ensure(24);
    const buf = this.buf;
    let n = value;
    if (n < 0) {
      buf[this.pos++] = 45;
      n = -n;
    }
    if (n >= 2_147_483_648) {
      let digits = 1;
      for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++;
      let p = this.pos + digits;
      this.pos = p;
      do {
        const q = Math.floor(n / 10);
        buf[--p] = 48 + (n - q * 10);
        n = q;
      } while (n > 0);
      return;
    }
    // Below 2^31: integer division, two digits per step.
    const digits = n < 10 ? 1 : n < 100 ? 2 : n < 1e3 ? 3 : n < 1e4 ? 4 : n < 1e5 ? 5 : n < 1e6 ? 6 : n < 1e7 ? 7 : n < 1e8 ? 8 : n < 1e9 ? 9 : 10;
    let p = this.pos + digits;
    this.pos = p;
    while (n >= 100) {
      const q = (n / 100) | 0;
      const r = (n - q * 100) << 1;
      buf[--p] = PAIRS[r + 1]!;
      buf[--p] = PAIRS[r]!;
      n = q;
    }
    if (n >= 10) {
      buf[--p] = PAIRS[(n << 1) + 1]!;
      buf[--p] = PAIRS[n << 1]!;
    } else {
      buf[--p] = 48 + n;
    }
  }

  /** `n` (0 <= n < 10^width < 2^31) with leading zeros. */
  fixed(n: number, width: number): void {
    this.ensure(width);
    const buf = this.buf;
    let p = this.pos + width;
    this.pos = p;
    let rest = n;
    let left = width;
    while (left >= 2) {
      const q = (rest / 100) | 0;
      const r = (rest - q * 100) << 1;
      buf[--p] = PAIRS[r + 1]!;
      buf[--p] = PAIRS[r]!;
      rest = q;
      left -= 2;
    }
    if (left === 1) buf[--p] = 48 + (rest % 10);
  }
}

/** "00", "01", ... "99" as bytes: two digits per division. */
const PAIRS = new TextEncoder().encode(Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')).join(''));

export type CellWriter = (i: number) => void;

/** A writer of the non-null cells of `data` into `sink`, in the spelling of `style`. */
export function byteCellWriter(data: Data, style: TextStyle, delimiter: number, sink: ByteSink): CellWriter {
  const json = style.json;
  // Numbers, booleans and timestamps cannot hold the usual delimiters; with any other delimiter (a digit,
  // a letter, ':') they may need quoting, which the generic path does.
  const plainSafe = json || SAFE_DELIMITERS.includes(delimiter);
  switch (plainSafe || data.typeId === Type.Utf8 ? data.typeId : Type.NONE) {
    case Type.Int: {
      const values = data.values as ArrayLike<number | bigint>;
      if ((data.type as Int).bitWidth < 64) return (i) => sink.int(values[i] as number);
      return (i) => {
        const v = values[i] as bigint;
        if (v <= MAX_SAFE && v >= -MAX_SAFE) sink.int(Number(v));
        else if (json) sink.string(`"${v}"`);
        else sink.string(String(v));
      };
    }
    case Type.Float: {
      if ((data.type as Float).precision !== Precision.DOUBLE) break;
      const values = data.values as Float64Array;
      return (i) => {
        const v = values[i]!;
        if (Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER) sink.int(v);
        else if (Number.isFinite(v)) sink.string(String(v));
        else sink.string(json ? `"${v}"` : String(v));
      };
    }
    case Type.Bool: {
      const values = data.values as Uint8Array;
      const offset = data.offset;
      const t = utf8.encode('true');
      const f = utf8.encode('false');
      return (i) => sink.bytes((values[(offset + i) >> 3]! >> ((offset + i) & 7)) & 1 ? t : f);
    }
    case Type.Utf8: {
      if (!json && delimiter < 0) break;
      const values = data.values as Uint8Array;
      const offsets = data.valueOffsets as Int32Array;
      return json ? jsonStringWriter(values, offsets, sink) : csvStringWriter(values, offsets, delimiter, sink);
    }
    case Type.Timestamp: {
      const type = data.type as Timestamp;
      return timestampWriter(data.values as BigInt64Array, type, json, sink);
    }
  }
  const text = cellWriter(data, style);
  return (i) => sink.string(text(i));
}

const SAFE_DELIMITERS = [0x2c, 0x3b, 0x09, 0x7c, 0x20];

/** JSON strings: copied byte for byte, escaping quotes, backslashes and control characters as JSON.stringify does. */
function jsonStringWriter(values: Uint8Array, offsets: Int32Array, sink: ByteSink): CellWriter {
  return (i) => {
    const start = offsets[i]!;
    const end = offsets[i + 1]!;
    sink.ensure(6 * (end - start) + 2);
    const buf = sink.buf;
    let pos = sink.pos;
    buf[pos++] = 0x22;
    for (let j = start; j < end; j++) {
      const b = values[j]!;
      if (b >= 0x20 && b !== 0x22 && b !== 0x5c) {
        buf[pos++] = b;
        continue;
      }
      buf[pos++] = 0x5c;
      const short = ESCAPES[b];
      if (short !== undefined) buf[pos++] = short;
      else {
        // \u00XX for the other control characters.
        buf[pos++] = 0x75;
        buf[pos++] = 0x30;
        buf[pos++] = 0x30;
        buf[pos++] = HEX[b >> 4]!;
        buf[pos++] = HEX[b & 15]!;
      }
    }
    buf[pos++] = 0x22;
    sink.pos = pos;
  };
}

/** The letter after the backslash for the characters JSON escapes briefly. */
const ESCAPES: Record<number, number> = { 0x22: 0x22, 0x5c: 0x5c, 0x08: 0x62, 0x0c: 0x66, 0x0a: 0x6e, 0x0d: 0x72, 0x09: 0x74 };
const HEX = new TextEncoder().encode('0123456789abcdef');

/** CSV fields (RFC 4180): quoted when they hold the delimiter, a quote, CR or LF, or are empty (vs null). */
function csvStringWriter(values: Uint8Array, offsets: Int32Array, delimiter: number, sink: ByteSink): CellWriter {
  return (i) => {
    const start = offsets[i]!;
    const end = offsets[i + 1]!;
    let quote = start === end;
    for (let j = start; j < end && !quote; j++) {
      const b = values[j]!;
      quote = b === delimiter || b === 0x22 || b === 0x0a || b === 0x0d;
    }
    if (!quote) return sink.range(values, start, end);
    sink.ensure(2 * (end - start) + 2);
    const buf = sink.buf;
    let pos = sink.pos;
    buf[pos++] = 0x22;
    for (let j = start; j < end; j++) {
      const b = values[j]!;
      buf[pos++] = b;
      if (b === 0x22) buf[pos++] = 0x22;
    }
    buf[pos++] = 0x22;
    sink.pos = pos;
  };
}

/**
 * ISO 8601 timestamps written digit by digit, with the date part cached per day (rows of a batch tend
 * to share days). Must spell exactly what formatTimestamp in temporal.ts spells.
 */
function timestampWriter(values: BigInt64Array, type: Timestamp, json: boolean, sink: ByteSink): CellWriter {
  const unit = type.unit;
  const utc = type.timezone !== null && type.timezone !== undefined && type.timezone !== '';
  if (unit === TimeUnit.NANOSECOND) {
    return (i) => sink.string(json ? `"${formatTimestamp(values[i]!, unit, utc)}"` : formatTimestamp(values[i]!, unit, utc));
  }
  const digits = unit === TimeUnit.SECOND ? 0 : unit === TimeUnit.MILLISECOND ? 3 : 6;
  const perSecond = unit === TimeUnit.SECOND ? 1 : unit === TimeUnit.MILLISECOND ? 1000 : 1_000_000;
  let cachedDay = Number.NaN;
  let dayBytes = new Uint8Array(0);
  return (i) => {
    const raw = values[i]!;
    if (raw > MAX_SAFE || raw < -MAX_SAFE) {
      const text = formatTimestamp(raw, unit, utc);
      return sink.string(json ? `"${text}"` : text);
    }
    const v = Number(raw);
    const seconds = Math.floor(v / perSecond);
    const fraction = v - seconds * perSecond;
    const day = Math.floor(seconds / 86_400);
    if (day !== cachedDay) {
      const date = formatDate(day);
      if (date.length !== 10) {
        // Years before 0000 or after 9999: rare, and the expanded form has its own layout.
        const text = formatTimestamp(raw, unit, utc);
        return sink.string(json ? `"${text}"` : text);
      }
      cachedDay = day;
      dayBytes = utf8.encode(`${date}T`);
    }
    let second = seconds - day * 86_400;
    sink.ensure(40);
    if (json) sink.buf[sink.pos++] = 0x22;
    sink.bytes(dayBytes);
    const hour = Math.floor(second / 3600);
    second -= hour * 3600;
    const minute = Math.floor(second / 60);
    second -= minute * 60;
    sink.fixed(hour, 2);
    sink.buf[sink.pos++] = 0x3a;
    sink.fixed(minute, 2);
    sink.buf[sink.pos++] = 0x3a;
    sink.fixed(second, 2);
    if (digits > 0) {
      sink.buf[sink.pos++] = 0x2e;
      sink.fixed(fraction, digits);
    }
    if (utc) sink.buf[sink.pos++] = 0x5a;
    if (json) sink.buf[sink.pos++] = 0x22;
  };
}

/** Encodes whole batches of rows for one schema. */
export class RowWriter {
  private readonly separators: Uint8Array[];
  private readonly rowStart: Uint8Array;
  private readonly rowEnd: Uint8Array;
  private readonly nullBytes: Uint8Array;
  private readonly delimiter: number;
  private bytesPerRow = 64;

  constructor(
    fields: readonly Field[],
    private readonly style: TextStyle,
    delimiter: string,
  ) {
    const json = style.json;
    this.separators = fields.map((f, c) => utf8.encode(json ? `${c === 0 ? '' : ','}${JSON.stringify(f.name)}:` : c === 0 ? '' : delimiter));
    this.rowStart = utf8.encode(json ? '{' : '');
    this.rowEnd = utf8.encode(json ? '}\n' : '\n');
    this.nullBytes = utf8.encode(style.nullText);
    this.delimiter = delimiter.length === 1 && delimiter.charCodeAt(0) < 0x80 ? delimiter.charCodeAt(0) : -1;
  }

  /** The batch's rows as UTF-8 (each row ends with a line break), preceded by `prefix`. */
  write(columns: readonly Data[], rows: number, prefix: string): Uint8Array {
    const sink = new ByteSink(Math.ceil(rows * this.bytesPerRow * 1.1) + prefix.length * 3);
    sink.string(prefix);
    const writers = columns.map((data) => byteCellWriter(data, this.style, this.delimiter, sink));
    const bitmaps = columns.map((data) => (data.typeId === Type.Null ? null : data.nullCount > 0 && data.nullBitmap && data.nullBitmap.length > 0 ? data.nullBitmap : null));
    const offsets = columns.map((data) => data.offset);
    const allNull = columns.map((data) => data.typeId === Type.Null);
    const { separators, rowStart, rowEnd, nullBytes } = this;
    const n = columns.length;
    for (let i = 0; i < rows; i++) {
      sink.bytes(rowStart);
      for (let c = 0; c < n; c++) {
        sink.bytes(separators[c]!);
        const bitmap = bitmaps[c];
        if (allNull[c]) {
          sink.bytes(nullBytes);
          continue;
        }
        if (bitmap) {
          const bit = offsets[c]! + i;
          if (((bitmap[bit >> 3]! >> (bit & 7)) & 1) === 0) {
            sink.bytes(nullBytes);
            continue;
          }
        }
        writers[c]!(i);
      }
      sink.bytes(rowEnd);
    }
    if (rows > 0) this.bytesPerRow = Math.max(8, sink.pos / rows);
    return sink.buf.subarray(0, sink.pos);
  }
}
