import { byteSize, duration, z } from '../../src/api/options.js';
import { FILE_FORMATS, formatOptionsSchema, refineFormatOptions } from '../../src/formats/options.js';

const KIB = 1024;
/** OSS refuses parts below this size, except the last. */
export const MIN_PART_SIZE = 100 * KIB;
/** OSS allows at most this many parts per upload. */
export const MAX_PARTS = 10_000;

const BUCKET_NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

/** Options every OSS connector has: where the bucket is and how to talk to it. */
const connection = {
  endpoint: z
    .string()
    .min(1)
    .meta({ description: 'OSS endpoint URL (e.g. https://oss-cn-hangzhou.aliyuncs.com), or `embedded`: a local OSS emulator over .tideway/oss, started by the job.' }),
  bucket: z.string().regex(BUCKET_NAME, 'a bucket name is 3 to 63 lower-case letters, digits and hyphens').meta({ description: 'Bucket name.' }),
  region: z.string().min(1).default('oss-cn-hangzhou').meta({ description: 'Region of the bucket, as ali-oss expects it (oss-cn-hangzhou).' }),
  access_key_id: z.string().min(1).optional().meta({ description: 'AccessKey ID; required unless endpoint is embedded.' }),
  access_key_secret: z.string().min(1).optional().meta({ secret: true, description: 'AccessKey secret; required unless endpoint is embedded. Never logged.' }),
  path: z
    .string()
    .min(1)
    .meta({ description: 'Prefix (folder) inside the bucket, e.g. warehouse/orders; leading and trailing slashes are ignored.' }),
  max_retries: z.number().int().min(0).default(5).meta({ description: 'Retries of a failed OSS request (5xx, 429, timeouts, connection resets) before the job fails.' }),
  retry_backoff: duration().prefault('200ms').meta({ description: 'Pause before the first retry; it doubles per retry (with jitter), up to 20s.' }),
  timeout: duration().prefault('60s').meta({ description: 'Timeout of one OSS request (e.g. 60s).' }),
};

function refineConnection(value: { endpoint: string; access_key_id?: string | undefined; access_key_secret?: string | undefined; path: string }, ctx: z.RefinementCtx): void {
  if (value.endpoint !== 'embedded') {
    if (!/^https?:\/\//.test(value.endpoint)) {
      ctx.addIssue({ code: 'custom', path: ['endpoint'], message: `endpoint must be an http(s) URL such as https://oss-cn-hangzhou.aliyuncs.com, or embedded; got ${JSON.stringify(value.endpoint)}` });
    }
    for (const key of ['access_key_id', 'access_key_secret'] as const) {
      if (value[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `${key} is required for endpoint ${value.endpoint} (only endpoint: embedded works without keys)` });
    }
  }
  if (normalizePrefix(value.path) === '') ctx.addIssue({ code: 'custom', path: ['path'], message: 'path must name a prefix inside the bucket, such as warehouse/orders' });
}

/** `a/b` and `/a/b/` both become `a/b/`. */
export function normalizePrefix(path: string): string {
  const trimmed = path.replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}

const partitionBy = z
  .object({
    time_column: z.string().min(1).optional().meta({ description: 'Timestamp or date column that places a row in a time slice.' }),
    granularity: z.enum(['hour', 'day', 'month']).default('day').meta({ description: 'Time slice: hour (dt=2026-11-22/hour=03/), day (dt=2026-11-22/) or month (dt=2026-11/), in UTC.' }),
    columns: z.array(z.string().min(1)).default([]).meta({ description: 'Plain columns, each giving a folder such as region=eu/, after the time slice.' }),
  })
  .strict()
  .refine((p) => p.time_column !== undefined || p.columns.length > 0, { message: 'partition_by needs a time_column, columns, or both' });

export const sinkOptionsSchema = z
  .object({
    ...connection,
    ...formatOptionsSchema.shape,
    partition_by: partitionBy
      .optional()
      .meta({ description: 'Folders per time slice and/or column value: {time_column, granularity: hour|day|month, columns: [..]}. A time slice gets a _SUCCESS marker once complete.', typeName: 'object' }),
    max_file_size: byteSize().prefault('128MiB').meta({ description: 'Roll to a new object after this many bytes (e.g. 256MiB).' }),
    part_size: byteSize()
      .prefault('8MiB')
      .refine((n) => n >= MIN_PART_SIZE, { message: 'part_size must be at least 100KiB (the OSS minimum for a multipart part)' })
      .meta({ description: 'Size of each multipart part uploaded while a file is written (at least 100KiB).' }),
    flush_interval: duration()
      .prefault('1m')
      .meta({ description: 'Longest time a file stays open between checkpoints; older files are finished at the next write. Every checkpoint finishes all open files anyway.' }),
    max_open_files: z.number().int().min(1).default(32).meta({ description: 'Open files per writer (one per partition); the least recently written is finished beyond this. Bounds memory to about max_open_files x part_size.' }),
    upload_concurrency: z.number().int().min(1).default(8).meta({ description: 'Parts each writer uploads at the same time (each holds up to part_size in memory).' }),
    allow_non_empty_target: z
      .boolean()
      .default(false)
      .meta({ description: 'Write into a prefix that already holds objects this job did not write. Time slices then get a _SUCCESS.<job> marker instead of _SUCCESS.' }),
    data_save_mode: z
      .enum(['append', 'overwrite', 'error'])
      .default('error')
      .meta({
        description:
          'What a run that starts from scratch (no checkpoint to resume, or --fresh) does with objects this job committed earlier: error stops before writing anything, overwrite removes them first (only this job\'s), append writes next to them. A resumed run never removes anything.',
      }),
    lease_timeout: duration()
      .prefault('2m')
      .refine((ms) => ms >= 1000, { message: 'lease_timeout must be at least 1s' })
      .meta({ description: 'A run holds a lease on the job (renewed every third of this) so that a second run of the same job is refused; a run that died on another machine blocks the job for at most this long.' }),
    late_data: z
      .enum(['redirect', 'fail'])
      .default('redirect')
      .meta({ description: 'A row for a time slice that is already complete: redirect writes it under <path>/_late/ and counts it; fail stops the job.' }),
    allowed_lateness: duration()
      .prefault('1m')
      .meta({ description: 'Streaming: how far behind the newest event time a row may arrive and still go to its slice; a writer\'s watermark is its newest event time minus this.' }),
  })
  .superRefine((value, ctx) => {
    refineFormatOptions(value, ctx);
    refineConnection(value, ctx);
    if (Math.ceil(value.max_file_size / value.part_size) > MAX_PARTS) {
      ctx.addIssue({ code: 'custom', path: ['max_file_size'], message: `max_file_size / part_size must stay within OSS's ${MAX_PARTS} parts per object; raise part_size` });
    }
  });

export type OssSinkOptions = z.output<typeof sinkOptionsSchema>;
export type PartitionBy = z.output<typeof partitionBy>;

const { compression, csv_delimiter, csv_header } = formatOptionsSchema.shape;

export const sourceOptionsSchema = z
  .object({
    ...connection,
    format: z
      .enum(['auto', ...FILE_FORMATS])
      .default('auto')
      .meta({ description: 'auto (from each object\'s extension: .jsonl, .json, .ndjson, .csv, .arrow, .parquet, optionally .gz), or one of jsonl, csv, arrow, parquet for every object.' }),
    compression,
    csv_delimiter,
    csv_header,
    split_size: byteSize().prefault('64MiB').meta({ description: 'Uncompressed CSV and JSON Lines objects larger than this are read as several byte-range splits.' }),
    chunk_rows: z.number().int().min(1).default(8192).meta({ description: 'Rows per batch (and per read under the checkpoint lock).' }),
    infer_rows: z.number().int().min(1).default(1000).meta({ description: 'JSON Lines / CSV: rows of the first object sampled to infer the schema.' }),
  })
  .superRefine((value, ctx) => {
    refineConnection(value, ctx);
    if (value.format !== 'auto') refineFormatOptions({ ...value, format: value.format }, ctx);
  });

export type OssSourceOptions = z.output<typeof sourceOptionsSchema>;

export const RETRY_MAX_DELAY_MS = 20_000;
