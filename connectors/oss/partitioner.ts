import { createHash } from 'node:crypto';
import { type DataType, DataType as DT, type RecordBatch, type Schema, TimeUnit, type Vector } from 'apache-arrow';
import { TidewayError } from '../../src/api/errors.js';
import type { PartitionBy } from './options.js';
import { takeRows } from './take.js';

export type Granularity = PartitionBy['granularity'];

/** A time slice: its folder (relative to the prefix) and the half-open time range `[start, end)` in ms. */
export interface TimeSlice {
  path: string;
  start: number;
  end: number;
}

/** The rows of one batch that go to one folder. */
export interface PartitionGroup {
  /** Folder relative to the prefix, with a trailing slash (`''` without partitioning). */
  path: string;
  /** The time slice, when partitioning by time and the row's time is not null. */
  slice: TimeSlice | undefined;
  batch: RecordBatch;
  /** Newest event time among the rows (ms), or undefined. */
  maxTime: number | undefined;
}

interface Group {
  slice: TimeSlice | undefined;
  rows: number[];
  maxTime: number | undefined;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** The folder for rows whose partition value is null (Hive uses `__HIVE_DEFAULT_PARTITION__` the same way). */
export const NULL_VALUE = '__null__';
/**
 * The folder for rows whose partition value is the empty string. Unambiguous: a real value starting with `_`
 * has that `_` escaped (`%5F`), so no value escapes to this name or to NULL_VALUE.
 */
export const EMPTY_VALUE = '__empty__';
/** An escaped value longer than this (bytes) is cut to a readable start plus `~` and a hash of the whole value. */
export const MAX_VALUE_BYTES = 128;
/** The hash part of a shortened value: `~` and 16 hex digits of the value's SHA-256 (64 bits). */
const HASH_SUFFIX_BYTES = 17;
/** The smallest per-value budget that still leaves a readable start in front of the hash. */
export const MIN_VALUE_BYTES = HASH_SUFFIX_BYTES + 7;

/** The slice of `ms` (UTC). */
export function sliceOf(ms: number, granularity: Granularity): TimeSlice {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const mo = d.getUTCMonth();
  const pad = (n: number) => String(n).padStart(2, '0');
  const month = `${y}-${pad(mo + 1)}`;
  switch (granularity) {
    case 'hour': {
      const start = Math.floor(ms / HOUR) * HOUR;
      return { path: `dt=${month}-${pad(d.getUTCDate())}/hour=${pad(d.getUTCHours())}/`, start, end: start + HOUR };
    }
    case 'day': {
      const start = Math.floor(ms / DAY) * DAY;
      return { path: `dt=${month}-${pad(d.getUTCDate())}/`, start, end: start + DAY };
    }
    case 'month':
      return { path: `dt=${month}/`, start: Date.UTC(y, mo, 1), end: Date.UTC(y, mo + 1, 1) };
  }
}

/**
 * A column value as a folder name: `/`, `=`, `%`, `~`, control characters and the like are %-escaped, a
 * leading `_` or `.` too (readers skip such folders). Null is `__null__`, the empty string `__empty__`. An
 * escaped value longer than `maxBytes` keeps a readable start and ends in `~` plus 16 hex digits of the
 * SHA-256 of the value, so that keys stay within OSS's 1,023 bytes and distinct values stay apart (`~` never
 * appears unescaped in a value).
 */
export function escapeValue(value: unknown, maxBytes = MAX_VALUE_BYTES): string {
  if (value === null || value === undefined) return NULL_VALUE;
  const text = value instanceof Date ? value.toISOString() : typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (text === '') return EMPTY_VALUE;
  const escaped = text.replace(/[\u0000-\u001f%/=#?*\\:"<>|~\u007f]|^\.|^_/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  if (Buffer.byteLength(escaped) <= maxBytes) return escaped;
  const hash = createHash('sha256').update(text).digest('hex').slice(0, HASH_SUFFIX_BYTES - 1);
  return `${readableStart(escaped, maxBytes - HASH_SUFFIX_BYTES)}~${hash}`;
}

/** The longest start of `escaped` within `bytes` that cuts neither a %XX escape nor a character. */
function readableStart(escaped: string, bytes: number): string {
  let out = '';
  let used = 0;
  for (const match of escaped.matchAll(/%[0-9A-F]{2}|[\s\S]/gu)) {
    const piece = match[0];
    const size = Buffer.byteLength(piece);
    if (used + size > bytes) break;
    out += piece;
    used += size;
  }
  return out;
}

/** OSS's limit on an object key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1023;
/** The longest time-slice folder, `dt=2026-11-22/hour=03/`, with room to spare. */
const MAX_TIME_PATH_BYTES = 24;

/**
 * The bytes each column value may take in a folder name so that every key the sink writes stays within
 * OSS's 1,023 bytes: the prefix, `_late/`, the time slice, one `name=value/` per column and the longest data
 * object name. At most MAX_VALUE_BYTES; throws OSS_KEY_TOO_LONG when not even a shortened value fits.
 */
export function valueBudget(spec: PartitionBy | undefined, prefix: string, lateDir: string, maxFileNameBytes: number): number {
  const columns = spec?.columns ?? [];
  const fixed =
    Buffer.byteLength(prefix) + Buffer.byteLength(lateDir) + (spec?.time_column === undefined ? 0 : MAX_TIME_PATH_BYTES) + maxFileNameBytes + columns.reduce((n, c) => n + Buffer.byteLength(c) + 2, 0);
  const left = MAX_KEY_BYTES - fixed;
  const perValue = columns.length === 0 ? MAX_VALUE_BYTES : Math.min(MAX_VALUE_BYTES, Math.floor(left / columns.length));
  if (left < 0 || perValue < MIN_VALUE_BYTES) {
    throw new TidewayError(
      'OSS_KEY_TOO_LONG',
      `the oss sink's keys would not fit OSS's ${MAX_KEY_BYTES} bytes: path "${prefix}" (${Buffer.byteLength(prefix)} bytes), the job name and ${columns.length} partition column(s) leave ${Math.max(0, left)} bytes for the column values, and each needs at least ${MIN_VALUE_BYTES}. Shorten path or the job name, or partition by fewer columns`,
      { context: { connector: 'oss', prefix } },
    );
  }
  return perValue;
}

const MS_PER_UNIT: Record<number, number> = { [TimeUnit.SECOND]: 1000, [TimeUnit.MILLISECOND]: 1, [TimeUnit.MICROSECOND]: 1e-3, [TimeUnit.NANOSECOND]: 1e-6 };

/**
 * Routes the rows of each batch to their partition folders. A batch whose rows all share one folder goes
 * through untouched; otherwise rows are grouped (a run of consecutive rows becomes a slice, scattered rows
 * are copied with `takeRows`).
 */
export class Partitioner {
  private readonly timeIndex: number | undefined;
  private readonly columnIndexes: number[];
  private readonly msPerUnit: number | undefined;

  private readonly maxValueBytes: number;

  /** `maxValueBytes`: the longest folder name a column value gets (see escapeValue and valueBudget). */
  constructor(
    private readonly spec: PartitionBy | undefined,
    schema: Schema,
    options: { maxValueBytes?: number } = {},
  ) {
    this.maxValueBytes = options.maxValueBytes ?? MAX_VALUE_BYTES;
    const find = (name: string, what: string): number => {
      const index = schema.fields.findIndex((f) => f.name === name);
      if (index < 0) {
        throw new TidewayError('OSS_PARTITION_COLUMN', `partition_by.${what} names column "${name}", which the stream does not have (columns: ${schema.fields.map((f) => f.name).join(', ')})`, {
          context: { connector: 'oss' },
        });
      }
      return index;
    };
    if (spec?.time_column !== undefined) {
      this.timeIndex = find(spec.time_column, 'time_column');
      const type = schema.fields[this.timeIndex]!.type as DataType;
      if (DT.isTimestamp(type)) this.msPerUnit = MS_PER_UNIT[type.unit];
      else if (!DT.isDate(type)) {
        throw new TidewayError('OSS_PARTITION_COLUMN', `partition_by.time_column "${spec.time_column}" is ${String(type)}; it must be a timestamp or date column`, {
          context: { connector: 'oss' },
        });
      }
    }
    this.columnIndexes = (spec?.columns ?? []).map((name, i) => find(name, `columns[${i}]`));
  }

  get partitioned(): boolean {
    return this.timeIndex !== undefined || this.columnIndexes.length > 0;
  }

  get byTime(): boolean {
    return this.timeIndex !== undefined;
  }

  private timeReader(batch: RecordBatch): ((row: number) => number | undefined) | undefined {
    if (this.timeIndex === undefined) return undefined;
    const vector = batch.getChildAt(this.timeIndex) as Vector;
    const data = vector.data[0];
    if (this.msPerUnit !== undefined && data && vector.data.length === 1) {
      const values = data.values as BigInt64Array;
      const factor = this.msPerUnit;
      return (row) => (vector.isValid(row) ? Math.floor(Number(values[row]!) * factor) : undefined);
    }
    return (row) => {
      const value = vector.get(row) as number | Date | null;
      if (value === null || value === undefined) return undefined;
      return typeof value === 'number' ? value : value.getTime();
    };
  }

  split(batch: RecordBatch): PartitionGroup[] {
    const n = batch.numRows;
    if (!this.partitioned) return [{ path: '', slice: undefined, batch, maxTime: undefined }];
    const time = this.timeReader(batch);
    const granularity = this.spec!.granularity;
    const columns = this.columnIndexes.map((index, i) => ({ name: this.spec!.columns[i]!, vector: batch.getChildAt(index) as Vector }));
    const groups = new Map<string, Group>();
    let lastSlice: TimeSlice | undefined;
    let previous: Group | undefined;
    let runs = 0;
    for (let row = 0; row < n; row++) {
      let path = '';
      let slice: TimeSlice | undefined;
      let ms: number | undefined;
      if (time) {
        ms = time(row);
        if (ms === undefined) path = `dt=${NULL_VALUE}/`;
        else {
          slice = lastSlice && ms >= lastSlice.start && ms < lastSlice.end ? lastSlice : sliceOf(ms, granularity);
          lastSlice = slice;
          path = slice.path;
        }
      }
      for (const column of columns) path += `${column.name}=${escapeValue(column.vector.get(row), this.maxValueBytes)}/`;
      let group = groups.get(path);
      if (!group) {
        group = { slice, rows: [], maxTime: undefined };
        groups.set(path, group);
      }
      if (group !== previous) runs++;
      previous = group;
      group.rows.push(row);
      if (ms !== undefined && (group.maxTime === undefined || ms > group.maxTime)) group.maxTime = ms;
    }
    const out: PartitionGroup[] = [];
    if (groups.size === 1) {
      const [path, group] = [...groups][0]!;
      return [{ path, slice: group.slice, batch, maxTime: group.maxTime }];
    }
    // Rows in a few long runs (time-ordered input) become zero-copy slices; scattered rows are copied.
    const contiguous = runs === groups.size;
    for (const [path, group] of groups) {
      const rows = group.rows;
      const part = contiguous ? batch.slice(rows[0]!, rows[rows.length - 1]! + 1) : takeRows(batch, Uint32Array.from(rows));
      out.push({ path, slice: group.slice, batch: part, maxTime: group.maxTime });
    }
    return out;
  }
}
