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
   * The service answered `odps-tunnel-date-transform: true`: DATE and DATETIME values come proleptic
   * Gregorian. Otherwise values before 1582-10-15 come on the legacy hybrid calendar and are converted.
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
 * Normalises a partition spec to the wire form `k=v,k2=v2`: quotes around values are dropped and `/` is
 * accepted as a separator (`ds='20240101'/region="hz"` becomes `ds=20240101,region=hz`).
 */
export function normalizePartitionSpec(spec: string | undefined): string {
  if (!spec || spec.trim() === '') return '';
  const parts = spec
    .split(/[,/]/)
    .map((p) => p.trim())
    .filter((p) => p !== '');
  return parts
    .map((part) => {
      const eq = part.indexOf('=');
      if (eq <= 0) {
        throw maxComputeError(
          'MAXCOMPUTE_INVALID_OPTIONS',
          `partition_spec "${spec}" is not a list of key=value pairs; write it like ds=20240101 or ds=20240101,region=hz`,
        );
      }
      const key = part.slice(0, eq).trim();
      const value = part
        .slice(eq + 1)
        .trim()
        .replace(/^'(.*)'$/, '$1')
        .replace(/^"(.*)"$/, '$1');
      return `${key}=${value}`;
    })
    .join(',');
}
