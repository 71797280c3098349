import { duration, z } from '../../src/api/options.js';

/** Options every postgres connector has: where the server is, who connects, and over what. */
export const connectionOptions = {
  url: z
    .string()
    .min(1)
    .optional()
    .meta({
      secret: true,
      description:
        'Connection URL postgres://user:password@host:5432/database (masked everywhere, since it may hold the password). Instead of host/port/database/user/password; those given as well override its parts.',
    }),
  host: z.string().min(1).optional().meta({ description: 'Server host name or address (default 127.0.0.1 when no url is given).' }),
  port: z.number().int().min(1).max(65535).optional().meta({ description: 'Server port (default 5432).' }),
  database: z.string().min(1).optional().meta({ description: 'Database name (default: the user name, as libpq does).' }),
  user: z.string().min(1).optional().meta({ description: 'User name (default postgres).' }),
  password: z.string().optional().meta({ secret: true, description: 'Password; never logged or shown.' }),
  ssl: z
    .enum(['disable', 'require', 'verify-ca', 'verify-full'])
    .default('disable')
    .meta({ description: 'TLS: disable, require (encrypted, certificate not checked), verify-ca (checked against ssl_root_cert), verify-full (also the host name).' }),
  ssl_root_cert: z.string().min(1).optional().meta({ description: 'PEM file of the CA that signed the server certificate (verify-ca, verify-full).' }),
  ssl_cert: z.string().min(1).optional().meta({ description: 'PEM client certificate file, for servers that ask for one.' }),
  ssl_key: z.string().min(1).optional().meta({ description: 'PEM private key file of ssl_cert.' }),
  connect_timeout: duration().prefault('10s').meta({ description: 'How long to wait for a connection (e.g. 10s).' }),
  table: z
    .string()
    .min(1)
    .optional()
    .meta({ description: 'Table as schema.table or table (schema public); quote parts with "" to keep case or dots, e.g. "Sales"."Orders".' }),
};

export type ConnectionOptions = {
  url?: string | undefined;
  host?: string | undefined;
  port?: number | undefined;
  database?: string | undefined;
  user?: string | undefined;
  password?: string | undefined;
  ssl: 'disable' | 'require' | 'verify-ca' | 'verify-full';
  ssl_root_cert?: string | undefined;
  ssl_cert?: string | undefined;
  ssl_key?: string | undefined;
  connect_timeout: number;
};

function refineUrl(value: { url?: string | undefined }, ctx: z.RefinementCtx): void {
  if (value.url === undefined) return;
  let parsed: URL | undefined;
  try {
    parsed = new URL(value.url);
  } catch {
    parsed = undefined;
  }
  // The URL itself is never echoed back: it may hold the password.
  if (!parsed || !/^postgres(ql)?:$/.test(parsed.protocol)) {
    ctx.addIssue({ code: 'custom', path: ['url'], message: 'url must look like postgres://user:password@host:5432/database (the value is not shown: it may hold a password)' });
  }
}

export const sourceOptionsSchema = z
  .object({
    ...connectionOptions,
    columns: z.array(z.string().min(1)).min(1).optional().meta({ description: 'Columns to read, in this order (default: every column of table).' }),
    where: z.string().min(1).optional().meta({ description: 'SQL condition added to every split\'s query, e.g. "status = \'paid\'".' }),
    query: z
      .string()
      .min(1)
      .optional()
      .meta({ description: 'A SELECT to read instead of table; read as one split (add ORDER BY on a unique key so that a resume after a crash skips exactly the rows already read).' }),
    partition_column: z
      .string()
      .min(1)
      .optional()
      .meta({ description: 'Integer, numeric, date or timestamp column whose range is cut into splits (default: the primary key when it is one integer column).' }),
    partition_num: z.number().int().min(1).optional().meta({ description: 'Number of splits (instead of split_size).' }),
    split_size: z.number().int().min(1).default(100_000).meta({ description: 'Rows per split, estimated from the row count and the partition column\'s range.' }),
    partition_lower_bound: z
      .union([z.number(), z.string()])
      .optional()
      .meta({ description: 'Lowest partition_column value to plan splits from (default: discovered); rows below it are still read, by the first split.' }),
    partition_upper_bound: z
      .union([z.number(), z.string()])
      .optional()
      .meta({ description: 'Highest partition_column value to plan splits to (default: discovered); rows above it are still read, by the last split.' }),
    chunk_rows: z.number().int().min(1).default(8192).meta({ description: 'Rows per batch (and per read under the checkpoint lock).' }),
  })
  .superRefine((value, ctx) => {
    refineUrl(value, ctx);
    if ((value.table === undefined) === (value.query === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['table'], message: 'give either table (with optional columns and where) or query, not both and not neither' });
    }
    if (value.query !== undefined) {
      for (const key of ['columns', 'where', 'partition_column', 'partition_num', 'partition_lower_bound', 'partition_upper_bound'] as const) {
        if (value[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `${key} applies to table only; with query, put it in the SELECT` });
      }
    }
  });

export type PostgresSourceOptions = z.output<typeof sourceOptionsSchema>;

export const SCHEMA_SAVE_MODES = ['create_when_missing', 'error_when_missing', 'recreate'] as const;
export const DATA_SAVE_MODES = ['append', 'truncate', 'error_when_not_empty'] as const;

export const sinkOptionsSchema = z
  .object({
    ...connectionOptions,
    write_mode: z
      .enum(['append', 'upsert'])
      .default('append')
      .meta({ description: 'append inserts every row; upsert inserts or updates by primary_keys (INSERT ... ON CONFLICT DO UPDATE).' }),
    exactly_once: z
      .boolean()
      .default(true)
      .meta({ description: 'Commit each checkpoint\'s rows exactly once, with a commit-log row in the same transaction (see commit_method); false writes straight into the target at each checkpoint (at-least-once after a crash).' }),
    commit_method: z
      .enum(['auto', 'staging'])
      .default('auto')
      .meta({
        description:
          'How exactly_once append commits. auto: each writer COPYs into the target in a transaction it commits once the checkpoint is saved, with a spill file beside the checkpoints that the committer replays if that transaction was lost (one write per row; used on one machine with data_save_mode append, no recreate and no pre_sql, else staging). staging: through staging tables (two writes per row).',
      }),
    primary_keys: z.array(z.string().min(1)).min(1).optional().meta({ description: 'Key columns for upsert (default: the table\'s primary key).' }),
    schema_save_mode: z
      .enum(SCHEMA_SAVE_MODES)
      .default('create_when_missing')
      .meta({ description: 'create_when_missing creates the table from the stream\'s schema; error_when_missing fails; recreate drops and creates it at the job\'s first commit.' }),
    data_save_mode: z
      .enum(DATA_SAVE_MODES)
      .default('append')
      .meta({ description: 'append keeps existing rows; truncate empties the table in the job\'s first commit; error_when_not_empty fails if the table holds rows.' }),
    pre_sql: z.array(z.string().min(1)).default([]).meta({ description: 'SQL run once per job run, in the transaction of its first commit (so with the first rows, or not at all).' }),
    post_sql: z.array(z.string().min(1)).default([]).meta({ description: 'SQL run once per job run, in the transaction of its last commit.' }),
    staging_schema: z
      .string()
      .min(1)
      .optional()
      .meta({ description: 'Schema for the staging tables and the tideway_commit_log table (default: the target table\'s schema).' }),
    batch_rows: z.number().int().min(1).default(16_384).meta({ description: 'Rows encoded into one COPY message batch.' }),
  })
  .superRefine((value, ctx) => {
    refineUrl(value, ctx);
    if (value.table === undefined) ctx.addIssue({ code: 'custom', path: ['table'], message: 'required option "table" is missing (schema.table to write into)' });
    if (value.write_mode !== 'upsert' && value.primary_keys !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['primary_keys'], message: 'primary_keys applies to write_mode: upsert only' });
    }
  });

export type PostgresSinkOptions = z.output<typeof sinkOptionsSchema>;
