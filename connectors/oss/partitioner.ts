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
/** The folder for rows whose partition value is null (Hive uses a similar placeholder). */
export const NULL_VALUE = '__null__';

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

/** A column value as a folder name: `/`, `=`, `%`, control characters and the like are %-escaped. */
export function escapeValue(value: unknown): string {
  if (value === null || value === undefined) return NULL_VALUE;
  const text = value instanceof Date ? value.toISOString() : typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (text === '') return '%00';
  return text.replace(/[\u0000-\u001f%/=#?*\\:"<>|\u007f]|^\.|^_/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
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

  constructor(
    private readonly spec: PartitionBy | undefined,
    schema: Schema,
  ) {
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
      for (const column of columns) path += `${column.name}=${escapeValue(column.vector.get(row))}/`;
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
