import { duration, z } from '../../src/api/options.js';

/** Options of the `maxcompute` source, declared once: validation, types and the README table derive from it. */
export const maxComputeSourceOptions = z.object({
  endpoint: z.string().min(1).meta({
    description:
      'MaxCompute endpoint URL, e.g. http://service.cn-hangzhou.maxcompute.aliyun.com/api; or `embedded` to read the built-in demo project from an in-process emulator.',
    example: 'http://service.cn-hangzhou.maxcompute.aliyun.com/api',
  }),
  tunnel_endpoint: z.string().optional().meta({
    description: 'Tunnel endpoint URL. Discovered from the endpoint (GET /projects/{project}/tunnel?service) when absent.',
  }),
  project: z.string().optional().meta({ description: 'MaxCompute project. Required unless endpoint is `embedded` (which defaults to tideway_demo).' }),
  schema_name: z.string().optional().meta({ description: 'Schema inside the project, for projects with the three-tier model.' }),
  table_name: z.string().min(1).meta({ description: 'Table to read.' }),
  partition_spec: z
    .union([z.string(), z.array(z.string()).min(1)])
    .optional()
    .meta({
      description:
        "Partition(s) of a partitioned table: `ds=20240101` or `ds='20240101',region='hz'` (pairs separated by , or /; quote a value that contains , or /, e.g. `tag='x,y'`), or a list of such specs. One download session per partition.",
    }),
  read_columns: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .meta({ description: 'Columns to read, in output order (a projection sent to the service). All columns when absent.' }),
  split_row: z.number().int().min(1).default(10_000).meta({ description: 'Rows per split: the unit readers take from the planner.' }),
  chunk_rows: z
    .number()
    .int()
    .min(1)
    .default(8192)
    .meta({ description: 'Rows per read under the checkpoint lock: the longest a checkpoint barrier waits behind a read.' }),
  format: z.enum(['record', 'arrow']).default('record').meta({ description: 'Tunnel wire format: `record` (protobuf records) or `arrow` (the Arrow variant).' }),
  access_id: z.string().optional().meta({ description: 'AccessKey ID. Required unless endpoint is `embedded`.' }),
  access_key: z.string().optional().meta({ description: 'AccessKey secret. Required unless endpoint is `embedded`. Never logged.', secret: true }),
  max_retries: z
    .number()
    .int()
    .min(0)
    .default(5)
    .meta({ description: 'Retries of a failing request (5xx, 429, broken or corrupt streams) before the read fails; a read that makes progress earns a fresh budget.' }),
  retry_backoff: duration().default(500).meta({ description: 'First retry delay; doubles per retry with jitter. A Retry-After from the service wins.' }),
  retry_max_backoff: duration().default(30_000).meta({ description: 'Largest retry delay.' }),
  read_timeout: duration().default(300_000).meta({ description: 'A connection silent for this long is abandoned and the read resumes on a new one.' }),
  async_session: z.boolean().default(false).meta({ description: 'Create download sessions in async mode (the service prepares them in the background; Tideway polls).' }),
  compress: z.boolean().default(false).meta({ description: 'Ask for deflate-compressed data (pays off across regions, not on a LAN).' }),
}).superRefine((options, ctx) => {
  // Cross-field rules live in the schema so that `tideway validate` reports them with the other issues.
  if (options.endpoint === 'embedded') return;
  for (const key of ['project', 'access_id', 'access_key'] as const) {
    if (!options[key]) ctx.addIssue({ code: 'custom', path: [key], message: `required option "${key}" is missing (it may be omitted only with endpoint: embedded)` });
  }
  if (!/^https?:\/\//.test(options.endpoint)) {
    ctx.addIssue({ code: 'custom', path: ['endpoint'], message: `"${options.endpoint}" is neither a URL (http://... or https://...) nor "embedded"` });
  }
  if (options.tunnel_endpoint !== undefined && !/^https?:\/\//.test(options.tunnel_endpoint)) {
    ctx.addIssue({ code: 'custom', path: ['tunnel_endpoint'], message: `"${options.tunnel_endpoint}" is not a URL (http://... or https://...)` });
  }
});

export type MaxComputeSourceOptions = z.output<typeof maxComputeSourceOptions>;
