import { duration, z } from '../../src/api/options.js';

/** Connection options shared by the `mysql` source and sink. */
export const connectionShape = {
  url: z.string().min(1).optional().meta({
    description:
      'Connection URL `mysql://user:password@host:3306/db` (or `mariadb://`). Secret as a whole, since it may hold the password. Options given separately (host, port, database, user, password) win over the URL.',
    secret: true,
    example: 'mysql://root@127.0.0.1:3306/test',
  }),
  host: z.string().min(1).optional().meta({ description: 'Server host name or address; 127.0.0.1 when neither this nor url gives one.' }),
  port: z.number().int().min(1).max(65535).optional().meta({ description: 'Server port; 3306 when neither this nor url gives one.' }),
  database: z.string().min(1).optional().meta({ description: 'Database (schema) the table lives in, unless `table` names it as `db.table`.' }),
  user: z.string().min(1).optional().meta({ description: 'User name; root when neither this nor url gives one.' }),
  password: z.string().optional().meta({ description: 'Password. Never logged, never in errors or reports.', secret: true }),
  ssl_mode: z
    .enum(['disabled', 'required', 'verify_ca', 'verify_identity'])
    .default('disabled')
    .meta({
      description:
        'TLS: `disabled`; `required` (encrypted, certificate not checked); `verify_ca` (certificate signed by ssl_ca or a system CA); `verify_identity` (also the host name).',
    }),
  ssl_ca: z.string().optional().meta({ description: 'PEM file of the CA that signed the server certificate (for verify_ca / verify_identity).' }),
  ssl_cert: z.string().optional().meta({ description: 'PEM file of a client certificate, for servers that require one.' }),
  ssl_key: z.string().optional().meta({ description: 'PEM file of the client certificate key.' }),
  connect_timeout: duration().default(10_000).meta({ description: 'Give up connecting after this long (e.g. 10s).' }),
} as const;

const table = z.string().min(1).meta({ description: 'Table as `table` or `db.table` (backquotes allowed: `` `my db`.`t` ``).' });

export const mysqlSourceOptions = z
  .object({
    ...connectionShape,
    table: table.optional(),
    columns: z.array(z.string().min(1)).min(1).optional().meta({ description: 'Columns to read, in output order; all columns when absent (table only).' }),
    where: z.string().min(1).optional().meta({ description: 'SQL condition every row read must meet, e.g. `status = \'paid\'` (table only).' }),
    query: z.string().min(1).optional().meta({ description: 'A SELECT to read instead of a table; read as one split, in a deterministic order.' }),
    partition_column: z
      .string()
      .min(1)
      .optional()
      .meta({ description: 'Integer, date, datetime or timestamp column that splits the table into ranges. Default: the primary key when it is one integer column.' }),
    split_size: z
      .number()
      .int()
      .min(1)
      .optional()
      .meta({ description: 'Rows per split: boundaries are found from the data one split ahead of the readers, so skewed and sparse keys still give even splits. The default (100000) applies unless partition_num is set.' }),
    partition_num: z
      .number()
      .int()
      .min(1)
      .optional()
      .meta({ description: 'Number of equal-width ranges between the lower and upper bound (fast to plan; even only when keys are spread evenly).' }),
    lower_bound: z.union([z.string(), z.number()]).optional().meta({ description: 'Lower bound for partition_num ranges (discovered with MIN() when absent). Rows below it are still read.' }),
    upper_bound: z.union([z.string(), z.number()]).optional().meta({ description: 'Upper bound for partition_num ranges (discovered with MAX() when absent). Rows above it are still read.' }),
    fetch_size: z
      .number()
      .int()
      .min(1)
      .default(8192)
      .meta({ description: 'Rows per keyset page (one SELECT ... LIMIT) and per read under the checkpoint lock.' }),
    consistent_snapshot: z
      .boolean()
      .default(false)
      .meta({
        description:
          'Each reader reads all its pages inside one `START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY`. Readers still see different moments: MySQL and MariaDB cannot share a snapshot between connections (see README).',
      }),
  })
  .superRefine((o, ctx) => {
    if ((o.table === undefined) === (o.query === undefined)) {
      ctx.addIssue({ code: 'custom', path: [o.table === undefined ? 'table' : 'query'], message: 'give exactly one of "table" or "query"' });
    }
    if (o.query !== undefined) {
      for (const key of ['columns', 'where', 'partition_column', 'split_size', 'partition_num', 'lower_bound', 'upper_bound'] as const) {
        if (o[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `"${key}" applies to a table; a query is read as one split (put conditions into the query)` });
      }
    }
    if (o.split_size !== undefined && o.partition_num !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['partition_num'], message: 'give either split_size (rows per split) or partition_num (number of ranges), not both' });
    }
    if ((o.lower_bound !== undefined || o.upper_bound !== undefined) && o.partition_num === undefined) {
      ctx.addIssue({ code: 'custom', path: [o.lower_bound !== undefined ? 'lower_bound' : 'upper_bound'], message: 'bounds shape partition_num ranges; set partition_num too' });
    }
    refineConnection(o, ctx);
  });

export type MysqlSourceOptions = z.output<typeof mysqlSourceOptions>;

export const mysqlSinkOptions = z
  .object({
    ...connectionShape,
    table,
    mode: z.enum(['append', 'upsert']).default('append').meta({ description: '`append` inserts every row; `upsert` inserts or updates by primary_keys (INSERT ... ON DUPLICATE KEY UPDATE).' }),
    primary_keys: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .meta({ description: 'Key columns for upsert (and for a table the sink creates). Default: the table\'s primary key.' }),
    exactly_once: z
      .boolean()
      .default(true)
      .meta({ description: 'Stage each checkpoint\'s rows in a table and move them into the target in one transaction with a commit-log row (see README). Off: rows go straight to the target (at-least-once; upsert makes replays harmless).' }),
    write_method: z
      .enum(['insert', 'load_data'])
      .default('insert')
      .meta({ description: '`insert`: multi-row INSERT statements. `load_data`: LOAD DATA LOCAL INFILE from a stream (needs local_infile=ON on the server).' }),
    batch_size: z.number().int().min(1).default(2000).meta({ description: 'Rows per statement (INSERT or LOAD DATA).' }),
    batch_bytes: z
      .number()
      .int()
      .min(1024)
      .default(4 * 1024 * 1024)
      .meta({ description: 'A statement is sent once it reaches this many bytes, even below batch_size (stay under the server\'s max_allowed_packet).' }),
    commit_size: z
      .number()
      .int()
      .min(1)
      .default(50_000)
      .meta({ description: 'Rows per transaction while writing (into the staging table, or into the target with exactly_once off).' }),
    schema_save_mode: z
      .enum(['create_when_missing', 'error_when_missing', 'recreate'])
      .default('create_when_missing')
      .meta({ description: 'A missing target table is created from the input schema, or is an error; `recreate` drops and creates it when the job starts (not when it resumes).' }),
    data_save_mode: z
      .enum(['append', 'truncate', 'error_when_not_empty'])
      .default('append')
      .meta({ description: '`truncate` empties the table in the same transaction as the run\'s first commit; `error_when_not_empty` refuses a table with rows this job did not write.' }),
    pre_sql: z.array(z.string().min(1)).optional().meta({ description: 'Statements run once when the job starts (not when it resumes), before any row is written.' }),
    post_sql: z.array(z.string().min(1)).optional().meta({ description: 'Statements run once after the last commit of the job.' }),
  })
  .superRefine((o, ctx) => {
    refineConnection(o, ctx);
    if (o.mode === 'upsert' && o.write_method === 'load_data' && !o.exactly_once) {
      ctx.addIssue({ code: 'custom', path: ['write_method'], message: 'load_data cannot update rows; with mode: upsert use exactly_once: true (the move from staging upserts) or write_method: insert' });
    }
  });

export type MysqlSinkOptions = z.output<typeof mysqlSinkOptions>;

function refineConnection(o: { url?: string | undefined; ssl_mode: string; ssl_key?: string | undefined; ssl_cert?: string | undefined }, ctx: z.RefinementCtx): void {
  if (o.url !== undefined && !/^(mysql|mariadb):\/\//i.test(o.url)) {
    // The value is a secret: the message does not repeat it.
    ctx.addIssue({ code: 'custom', path: ['url'], message: 'url must start with mysql:// or mariadb:// (mysql://user:password@host:3306/db)' });
  }
  if ((o.ssl_cert === undefined) !== (o.ssl_key === undefined)) {
    ctx.addIssue({ code: 'custom', path: [o.ssl_cert === undefined ? 'ssl_cert' : 'ssl_key'], message: 'a client certificate needs both ssl_cert and ssl_key' });
  }
}
