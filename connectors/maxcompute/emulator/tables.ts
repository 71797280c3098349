import { readFileSync } from 'node:fs';
import { parseOdpsType, type OdpsColumn, type OdpsType } from '../codec/types.js';
import type { CellValue, RowValues } from '../codec/values.js';
import { canonicalPartition, partitionValues } from './partition-spec.js';
import { maxComputeError } from '../errors.js';

/** Where a table's (or partition's) rows come from. */
export type TableRows =
  /** Literal rows, by position or by column name. Copied when the table is set. */
  | { rows: readonly RowValues[] }
  /**
   * A deterministic generator: row `i` is `row(i, seed)`. A 100M-row table costs nothing, and a test can
   * recompute any row to check what a job delivered.
   */
  | { rowCount: number; seed?: number; row: (index: number, seed: number) => RowValues }
  /** A CSV file with a header row naming the columns; empty unquoted fields are NULL; BINARY is base64. */
  | { csvFile: string }
  /** A file with one JSON object per line; BINARY is base64; BIGINT may be a number or a string. */
  | { jsonlFile: string };

/** A table the emulator serves. */
export interface TableFixture {
  name: string;
  columns: readonly OdpsColumn[];
  /** Partition columns; a partitioned table takes its rows from `partitions`. */
  partitionKeys?: readonly OdpsColumn[];
  /** Rows of a non-partitioned table. */
  data?: TableRows;
  /** Rows per partition, keyed by spec (`ds=20240101` or `ds=20240101,region=hz`). */
  partitions?: Readonly<Record<string, TableRows>>;
}

/** Rows of one partition (or of a non-partitioned table), frozen when the table was set. */
export interface PartitionData {
  readonly rowCount: number;
  row(index: number): RowValues;
}

/** One immutable version of a table: sessions hold on to it, so later `setTable` calls do not reach them. */
export interface TableVersion {
  readonly name: string;
  readonly version: number;
  readonly columns: readonly OdpsColumn[];
  readonly partitionKeys: readonly OdpsColumn[];
  /** Keyed by normalised spec; '' for a non-partitioned table. */
  readonly partitions: ReadonlyMap<string, PartitionData>;
}

let versionCounter = 0;

/** Freezes a fixture into a table version (loading files, copying literal rows). */
export function buildTableVersion(fixture: TableFixture, baseDir = process.cwd()): TableVersion {
  const columns = fixture.columns.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable ?? true, comment: c.comment ?? '' }));
  for (const c of columns) parseOdpsType(c.type);
  const partitionKeys = (fixture.partitionKeys ?? []).map((c) => ({ name: c.name, type: c.type, nullable: c.nullable ?? true, comment: c.comment ?? '' }));
  const partitions = new Map<string, PartitionData>();
  if (partitionKeys.length > 0) {
    for (const [spec, rows] of Object.entries(fixture.partitions ?? {})) {
      const names = partitionKeys.map((k) => k.name);
      let normalized: string;
      try {
        normalized = canonicalPartition(spec, names);
      } catch (error) {
        throw maxComputeError('MAXCOMPUTE_INVALID_OPTIONS', `partition "${spec}" of emulator table ${fixture.name} is not key=value pairs: ${(error as Error).message}`);
      }
      if (partitionValues(spec, names).size !== names.length) {
        throw maxComputeError('MAXCOMPUTE_INVALID_OPTIONS', `partition "${spec}" of emulator table ${fixture.name} must name every key: ${names.join(', ')}`);
      }
      partitions.set(normalized, freezeRows(rows, columns, baseDir));
    }
  } else {
    partitions.set('', freezeRows(fixture.data ?? { rows: [] }, columns, baseDir));
  }
  return { name: fixture.name, version: ++versionCounter, columns, partitionKeys, partitions };
}

function freezeRows(source: TableRows, columns: readonly OdpsColumn[], baseDir: string): PartitionData {
  if ('rows' in source) return literal([...source.rows]);
  if ('row' in source) {
    const seed = source.seed ?? 0;
    const row = source.row;
    return { rowCount: source.rowCount, row: (i) => row(i, seed) };
  }
  if ('csvFile' in source) return literal(parseCsv(readFileSync(resolvePath(baseDir, source.csvFile), 'utf8'), columns, source.csvFile));
  return literal(parseJsonl(readFileSync(resolvePath(baseDir, source.jsonlFile), 'utf8'), columns, source.jsonlFile));
}

function literal(rows: readonly RowValues[]): PartitionData {
  return { rowCount: rows.length, row: (i) => rows[i]! };
}

function resolvePath(baseDir: string, file: string): string {
  return file.startsWith('/') ? file : `${baseDir.replace(/\/+$/, '')}/${file}`;
}

/** Converts text from a CSV cell to the value the record writer expects for `type`. */
function fromText(text: string, type: OdpsType, where: string): CellValue {
  switch (type.kind) {
    case 'tinyint':
    case 'smallint':
    case 'int':
    case 'float':
    case 'double': {
      const n = Number(text);
      if (Number.isNaN(n) && text.trim().toLowerCase() !== 'nan') throw maxComputeError('MAXCOMPUTE_INVALID_OPTIONS', `${where}: "${text}" is not a number`);
      return n;
    }
    case 'bigint':
      return BigInt(text.trim());
    case 'boolean':
      return /^(true|1|yes)$/i.test(text.trim());
    case 'binary':
      return Buffer.from(text, 'base64');
    case 'array':
    case 'map':
    case 'struct':
      return fromJson(JSON.parse(text), type);
    default:
      return text;
  }
}

/** JSON values need only BINARY decoded (base64) and nested containers walked. */
function fromJson(value: unknown, type: OdpsType): CellValue {
  if (value === null || value === undefined) return null;
  switch (type.kind) {
    case 'binary':
      return typeof value === 'string' ? Buffer.from(value, 'base64') : value;
    case 'array':
      return (value as unknown[]).map((v) => fromJson(v, type.element));
    case 'map':
      return Object.entries(value as Record<string, unknown>).map(([k, v]) => [fromJson(k, type.key), fromJson(v, type.value)]);
    case 'struct': {
      const out: Record<string, CellValue> = {};
      for (const f of type.fields) out[f.name] = fromJson((value as Record<string, unknown>)[f.name], f.type);
      return out;
    }
    default:
      return value;
  }
}

function parseJsonl(text: string, columns: readonly OdpsColumn[], file: string): RowValues[] {
  const types = columns.map((c) => parseOdpsType(c.type));
  const rows: RowValues[] = [];
  text.split('\n').forEach((line, n) => {
    if (line.trim() === '') return;
    let object: Record<string, unknown>;
    try {
      object = JSON.parse(line) as Record<string, unknown>;
    } catch (error) {
      throw maxComputeError('MAXCOMPUTE_INVALID_OPTIONS', `${file}:${n + 1}: not a JSON object (${(error as Error).message})`);
    }
    rows.push(columns.map((c, i) => fromJson(object[c.name], types[i]!)));
  });
  return rows;
}

function parseCsv(text: string, columns: readonly OdpsColumn[], file: string): RowValues[] {
  const records = splitCsv(text);
  const header = records.shift();
  if (!header) return [];
  const index = columns.map((c) => {
    const at = header.findIndex((h) => h !== null && h.trim().toLowerCase() === c.name.toLowerCase());
    if (at < 0) throw maxComputeError('MAXCOMPUTE_INVALID_OPTIONS', `${file}: the header has no column "${c.name}" (it has ${header.join(', ')})`);
    return at;
  });
  const types = columns.map((c) => parseOdpsType(c.type));
  return records.map((cells, r) =>
    columns.map((c, i) => {
      const cell = cells[index[i]!];
      return cell === null || cell === undefined ? null : fromText(cell, types[i]!, `${file}:${r + 2} column ${c.name}`);
    }),
  );
}

/** RFC 4180 cells; an empty unquoted cell is null, `""` is the empty string. */
function splitCsv(text: string): (string | null)[][] {
  const rows: (string | null)[][] = [];
  let row: (string | null)[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    let cell: string | null;
    if (text[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) {
          value += text.slice(i);
          i = n;
          break;
        }
        value += text.slice(i, q);
        if (text[q + 1] === '"') {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      cell = value;
    } else {
      let j = i;
      while (j < n && text[j] !== ',' && text[j] !== '\n' && text[j] !== '\r') j++;
      cell = j === i ? null : text.slice(i, j);
      i = j;
    }
    row.push(cell);
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] === '\r') i++;
    if (text[i] === '\n') i++;
    if (!(row.length === 1 && row[0] === null)) rows.push(row);
    row = [];
  }
  return rows;
}
