import type { Schema } from 'apache-arrow';
import type { OdpsColumn } from '../codec/types.js';
import { toArrowSchema } from '../codec/types.js';
import { maxComputeError } from '../errors.js';

export type DownloadSessionStatus = 'normal' | 'initiating' | 'expired' | 'closed' | 'unknown';

/** A download session: a snapshot of one table (or partition) that any number of readers can read ranges of. */
export interface DownloadSession {
  /** The DownloadID, shared by every reader of the snapshot. */
  readonly id: string;
  readonly project: string;
  readonly schemaName?: string;
  readonly table: string;
  /** Normalised partition spec (`ds=20240101,region=hz`), or '' for a non-partitioned table. */
  readonly partition: string;
  readonly status: DownloadSessionStatus;
  /** The Status text as the service wrote it (for messages). */
  readonly serverStatus: string;
  readonly recordCount: number;
  /** Data columns in table order (partition columns are not part of downloaded records). */
  readonly columns: readonly OdpsColumn[];
  readonly partitionKeys: readonly OdpsColumn[];
  /** Arrow schema of all data columns (output types). */
  readonly arrowSchema: Schema;
  /**
   * The service answered `odps-tunnel-date-transform: true`: DATETIME values come proleptic Gregorian.
   * Otherwise DATETIMEs before 1582-10-15 come on the legacy hybrid calendar and are converted.
   */
  readonly dateTransform: boolean;
}

/** The session JSON the service returns on create and reload. */
export interface DownloadSessionJson {
  DownloadID: string;
  Initiated?: string;
  Owner?: string;
  RecordCount: number;
  Status: string;
  Schema: {
    IsVirtualView?: boolean;
    columns: SchemaColumnJson[];
    partitionKeys: SchemaColumnJson[];
  };
  QuotaName?: string;
  SupportReadByRawSize?: boolean;
}

export interface SchemaColumnJson {
  name: string;
  type: string;
  nullable?: boolean;
  comment?: string;
  column_id?: string;
  default_value?: string;
}

/** Parses the session JSON, rejecting shapes a client cannot work with (null column lists included). */
export function parseSessionJson(
  json: unknown,
  where: { project: string; schemaName?: string; table: string; partition: string },
  dateTransform = false,
): DownloadSession {
  const body = json as Partial<DownloadSessionJson> | null;
  const problem = (what: string) =>
    maxComputeError('MAXCOMPUTE_REQUEST_FAILED', `MaxCompute returned a download session for ${where.project}.${where.table} that cannot be used: ${what}`, {
      context: { project: where.project, table: where.table },
    });
  if (!body || typeof body !== 'object') throw problem('the body is not a JSON object');
  if (typeof body.DownloadID !== 'string' || body.DownloadID === '') throw problem('DownloadID is missing');
  const schema = body.Schema;
  if (!schema || !Array.isArray(schema.columns)) throw problem('Schema.columns is not an array');
  const partitionKeys = Array.isArray(schema.partitionKeys) ? schema.partitionKeys : [];
  const columns = schema.columns.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable ?? true, comment: c.comment ?? '' }));
  const status = parseSessionStatus(body.Status);
  const recordCount = Number(body.RecordCount ?? 0);
  if (!Number.isSafeInteger(recordCount) || recordCount < 0) throw problem(`RecordCount ${String(body.RecordCount)} is not a row count`);
  return {
    id: body.DownloadID,
    project: where.project,
    ...(where.schemaName ? { schemaName: where.schemaName } : {}),
    table: where.table,
    partition: where.partition,
    status,
    serverStatus: String(body.Status ?? ''),
    recordCount,
    columns,
    partitionKeys: partitionKeys.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable ?? true, comment: c.comment ?? '' })),
    arrowSchema: toArrowSchema(columns),
    dateTransform,
  };
}

/**
 * The session status, spelled as any of the SDKs accept it (case-insensitive): the Go SDK's
 * DownloadStatusFromStr knows UNKNOWN, NORMAL, CLOSED, EXPIRED, INITIATING; pyodps's
 * TableDownloadSession.Status spells the closed state CLOSES. Anything else is `unknown`.
 */
export function parseSessionStatus(text: unknown): DownloadSessionStatus {
  switch (String(text ?? '').trim().toUpperCase()) {
    case 'NORMAL':
      return 'normal';
    case 'INITIATING':
      return 'initiating';
    case 'EXPIRED':
      return 'expired';
    case 'CLOSED':
    case 'CLOSES':
      return 'closed';
    default:
      return 'unknown';
  }
}

/**
 * Parses a partition spec into key/value pairs. Pairs are separated by `,` or `/`; a value may be quoted
 * with `'` or `"`, and inside quotes `,`, `/` and `=` are part of the value (`p='a/b'`, `tag='x,y'`); a
 * backslash inside quotes takes the next character literally. Unquoted values are trimmed. The SDKs split
 * on every `,` and `/` (the Java SDK's PartitionSpec, pyodps's types.PartitionSpec), which breaks such
 * values; this parser is the quote-aware version of the same grammar.
 */
export function parsePartitionSpec(spec: string): [key: string, value: string][] {
  const fail = (what: string) =>
    maxComputeError(
      'MAXCOMPUTE_INVALID_OPTIONS',
      `partition_spec "${spec}" ${what}; write it like ds=20240101 or ds='20240101',region='hz' (quote values that contain , or /)`,
    );
  const pairs: [string, string][] = [];
  let i = 0;
  const n = spec.length;
  const skipSpaces = () => {
    while (i < n && /\s/.test(spec[i]!)) i++;
  };
  skipSpaces();
  if (i === n) return pairs;
  for (;;) {
    const eq = spec.indexOf('=', i);
    const sep = nextSeparator(spec, i);
    if (eq < 0 || (sep >= 0 && sep < eq)) throw fail(`has "${spec.slice(i, sep < 0 ? n : sep).trim()}" where a key=value pair belongs`);
    const key = spec.slice(i, eq).trim();
    if (key === '' || /['"]/.test(key)) throw fail(`has a pair without a usable key at "${spec.slice(i, eq + 1)}"`);
    i = eq + 1;
    skipSpaces();
    let value = '';
    const quote = spec[i];
    if (quote === "'" || quote === '"') {
      i++;
      for (;;) {
        if (i >= n) throw fail(`has an unterminated ${quote} quote in the value of ${key}`);
        const c = spec[i]!;
        if (c === quote) {
          i++;
          break;
        }
        if (c === '\\' && i + 1 < n) {
          value += spec[i + 1];
          i += 2;
          continue;
        }
        value += c;
        i++;
      }
      skipSpaces();
      if (i < n && spec[i] !== ',' && spec[i] !== '/') throw fail(`has "${spec.slice(i)}" after the quoted value of ${key}`);
    } else {
      const end = nextSeparator(spec, i);
      value = spec.slice(i, end < 0 ? n : end).trim();
      if (/['"]/.test(value)) throw fail(`has a stray quote in the value of ${key}`);
      i = end < 0 ? n : end;
    }
    if (value === '') throw fail(`gives ${key} an empty value`);
    if (pairs.some(([k]) => k.toLowerCase() === key.toLowerCase())) throw fail(`names ${key} twice`);
    pairs.push([key, value]);
    if (i >= n) return pairs;
    i++; // the separator
    skipSpaces();
    if (i >= n) return pairs;
  }
}

function nextSeparator(text: string, from: number): number {
  for (let k = from; k < text.length; k++) if (text[k] === ',' || text[k] === '/') return k;
  return -1;
}

/**
 * Normalises a partition spec to the form the SDKs put in the `partition` query parameter: `k=v` pairs
 * joined by `,`, quotes dropped (`ds='20240101'/region="hz"` becomes `ds=20240101,region=hz`). The service
 * tells values containing `,` apart by the table's partition keys.
 */
export function normalizePartitionSpec(spec: string | undefined): string {
  if (!spec || spec.trim() === '') return '';
  return parsePartitionSpec(spec)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}
