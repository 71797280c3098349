import type { RecordBatch } from 'apache-arrow';
import { TunnelClient, type TunnelClientOptions } from '../../../connectors/maxcompute/client/tunnel-client.js';
import type { DownloadSession } from '../../../connectors/maxcompute/client/session.js';
import type { ReadFormat } from '../../../connectors/maxcompute/client/row-reader.js';
import type { OdpsColumn } from '../../../connectors/maxcompute/codec/types.js';
import type { RowValues } from '../../../connectors/maxcompute/codec/values.js';
import { type MaxComputeEmulator, type MaxComputeEmulatorOptions, startMaxComputeEmulator } from '../../../connectors/maxcompute/emulator/index.js';
import { batchToRows, type Row } from '../../../src/api/rows.js';

/** One column of every supported type (complex ones included). */
export const ALL_TYPES: OdpsColumn[] = [
  { name: 'c_tinyint', type: 'tinyint' },
  { name: 'c_smallint', type: 'smallint' },
  { name: 'c_int', type: 'int' },
  { name: 'c_bigint', type: 'bigint' },
  { name: 'c_float', type: 'float' },
  { name: 'c_double', type: 'double' },
  { name: 'c_boolean', type: 'boolean' },
  { name: 'c_string', type: 'string' },
  { name: 'c_varchar', type: 'varchar(20)' },
  { name: 'c_char', type: 'char(4)' },
  { name: 'c_binary', type: 'binary' },
  { name: 'c_decimal', type: 'decimal(20,4)' },
  { name: 'c_date', type: 'date' },
  { name: 'c_datetime', type: 'datetime' },
  { name: 'c_timestamp', type: 'timestamp' },
  { name: 'c_timestamp_ntz', type: 'timestamp_ntz' },
  { name: 'c_json', type: 'json' },
  { name: 'c_array', type: 'array<int>' },
  { name: 'c_map', type: 'map<string,bigint>' },
  { name: 'c_struct', type: 'struct<a:int,b:string,c:array<double>>' },
];

/** Rows over ALL_TYPES: extremes, unicode, empty values, nulls everywhere (also inside containers). */
export const ALL_TYPES_ROWS: RowValues[] = [
  [
    -128,
    -32768,
    -2147483648,
    -(2n ** 63n),
    -1.5,
    -Number.MAX_VALUE,
    false,
    '',
    'héllo wörld',
    'ab',
    new Uint8Array([0, 255, 1]),
    '-1234567890123456.1234',
    -719162,
    -62135596800000,
    { seconds: -2208988800, nanos: 1 },
    { seconds: 0, nanos: 999999999 },
    '{"a":[1,2]}',
    [],
    new Map(),
    { a: null, b: null, c: [] },
  ],
  [
    127,
    32767,
    2147483647,
    2n ** 63n - 1n,
    3.25,
    Math.PI,
    true,
    '漢字 and emoji 🚀',
    'x'.repeat(20),
    'abcd',
    new Uint8Array(300).fill(7),
    '0.5',
    20000,
    1700000000123,
    { seconds: 1700000000, nanos: 123456789 },
    { seconds: 4102444800, nanos: 5 },
    '[]',
    [1, null, -3],
    new Map<string, bigint | null>([
      ['k1', 1n],
      ['k2', null],
    ]),
    { a: 7, b: 'bee', c: [1.5, null] },
  ],
  Array.from({ length: 20 }, () => null),
];

/** Rows as plain comparable JSON (bigint and bytes as strings). */
export function plain(rows: readonly Row[]): unknown[] {
  return JSON.parse(
    JSON.stringify(rows, (_key, value: unknown) => {
      if (typeof value === 'bigint') return `${value}n`;
      if (value instanceof Uint8Array) return `bytes:${Buffer.from(value).toString('hex')}`;
      return value;
    }),
  ) as unknown[];
}

export function rowsOf(batches: readonly RecordBatch[]): Row[] {
  return batches.flatMap((b) => batchToRows(b));
}

export const ID_TABLE_COLUMNS: OdpsColumn[] = [
  { name: 'id', type: 'bigint' },
  { name: 'name', type: 'string' },
  { name: 'score', type: 'double' },
];

/** A generated table whose row i is fully determined by i (and the seed). */
export function idTable(name: string, rowCount: number, seed = 1) {
  return {
    name,
    columns: ID_TABLE_COLUMNS,
    data: { rowCount, seed, row: (i: number, s: number): RowValues => [BigInt(i), `row-${i}-${s}`, i * 0.5] },
  };
}

export async function emulator(options: MaxComputeEmulatorOptions = {}): Promise<MaxComputeEmulator> {
  return startMaxComputeEmulator({ project: 'p', ...options });
}

/** A client for the emulator with fast retries (tests measure behaviour, not patience). */
export function clientOf(emu: MaxComputeEmulator, overrides: Partial<TunnelClientOptions> = {}): TunnelClient {
  return new TunnelClient({
    endpoint: emu.endpoint,
    project: emu.project,
    accessId: emu.accessId,
    accessKey: emu.accessKey,
    retry: { maxRetries: 4, baseDelayMs: 2, maxDelayMs: 20 },
    ...overrides,
  });
}

export async function readAll(
  client: TunnelClient,
  session: DownloadSession,
  options: { start?: number; count?: number; columns?: string[]; format?: ReadFormat; batchRows?: number } = {},
): Promise<{ batches: RecordBatch[]; rows: Row[] }> {
  const batches: RecordBatch[] = [];
  for await (const batch of client.readRows(session, {
    start: options.start ?? 0,
    count: options.count ?? session.recordCount - (options.start ?? 0),
    columns: options.columns,
    format: options.format,
    batchRows: options.batchRows,
  })) {
    batches.push(batch);
  }
  return { batches, rows: rowsOf(batches) };
}

/** Asserts ids form exactly start..start+count-1, each once, and returns the list. */
export function idsOf(rows: readonly Row[]): number[] {
  return rows.map((r) => Number(r.id as bigint));
}
