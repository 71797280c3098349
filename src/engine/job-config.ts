import { byteSize, duration, z } from '../api/options.js';

/**
 * The job as a user writes it (YAML or a typed object). Stage blocks hold the connector's options next to
 * the reserved keys `type`, `name`, `input` and `output`.
 */
export interface JobConfig {
  env: EnvConfig;
  source: StageConfig[];
  transform?: StageConfig[];
  sink: StageConfig[];
}

export interface StageConfig {
  type: string;
  /** A display name for reports; defaults to the type (numbered when a type appears twice). */
  name?: string;
  /** The stream this stage reads (transforms and sinks). */
  input?: string;
  /** The stream this stage produces (sources and transforms). */
  output?: string;
  /** The stage's own dirty-data policy (transforms and sinks), overriding `env.errors` field by field. */
  errors?: z.input<typeof errorsSchema>;
  [option: string]: unknown;
}

/**
 * The largest `parallelism` a job may ask for. Each unit of parallelism is one pipeline per source (a reader,
 * its transforms and one writer per sink), and with `transport: auto` each pipeline beyond the first runs on a
 * worker thread, which costs its own V8 heap (tens of MB) and start-up time (tens of ms) whatever the data
 * size. Parallelism beyond the machine's cores adds memory and start-up time, not speed.
 */
export const MAX_PARALLELISM = 64;
/**
 * The parallelism a cluster run allows (env.cluster or `tideway run --cluster`): its pipelines spread over the
 * workers' slots, so the one-machine limit does not apply.
 */
export const MAX_CLUSTER_PARALLELISM = 1024;

/** Why a parallelism above MAX_PARALLELISM is refused outside a cluster, and where it is allowed. */
export const ONE_MACHINE_LIMIT = `parallelism is at most ${MAX_PARALLELISM} on one machine: each unit costs a pipeline per source, and more than the machine's cores adds memory, not speed. Up to ${MAX_CLUSTER_PARALLELISM} in cluster mode (env.cluster, or tideway run --cluster), where pipelines spread over the workers' slots`;

export const RESERVED_STAGE_KEYS = ['type', 'name', 'input', 'output', 'errors'] as const;

/**
 * A dirty-data policy as written, in `env.errors` (every transform and sink) or in a stage's own `errors`
 * block, which overrides the job's field by field. Resolved in plan.ts (see dirty-data.ts for the rules).
 */
export const errorsSchema = z
  .object({
    tolerance: z
      .enum(['none', 'all'])
      .optional()
      .meta({ description: 'none (default): the first bad row fails the job, naming the stage, row and error. all: bad rows are counted and, with dead_letter, recorded; max_errors and max_error_ratio still fail the job.' }),
    max_errors: z.number().int().min(0).optional().meta({ description: 'With tolerance all: the job fails once a stage has rejected more than this many rows, counted across resumes.' }),
    max_error_ratio: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .meta({ description: 'With tolerance all: the job fails once a stage\'s rejected rows exceed this share of its input rows (0.01 = 1%), judged once the stage has seen ratio_min_rows rows.' }),
    ratio_min_rows: z.number().int().min(1).optional().meta({ description: 'Rows a stage must have seen before max_error_ratio is judged (default 1000), so that one bad row among the first few does not fail the job.' }),
    dead_letter: z
      .record(z.string(), z.unknown())
      .optional()
      .meta({ description: 'A sink block (any sink type) that receives each rejected row with its stage, error and the original row as JSON, exactly once, committed with the job\'s checkpoints.' }),
  })
  .strict();

export type ErrorsConfig = z.output<typeof errorsSchema>;

export const envSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, ".", "_" and "-" (it names checkpoint and staging folders)')
      .meta({ description: 'Job identity: checkpoints, resume and staging areas are keyed by it.' }),
    mode: z.enum(['batch', 'streaming']).default('batch').meta({ description: 'batch ends when bounded sources end; streaming runs until cancelled.' }),
    parallelism: z
      .number()
      .int()
      .min(1, 'parallelism is at least 1')
      .max(MAX_CLUSTER_PARALLELISM, `parallelism is at most ${MAX_CLUSTER_PARALLELISM} (in cluster mode; ${MAX_PARALLELISM} on one machine)`)
      .default(1)
      .meta({
        description: `Parallel readers per source (and writers per sink), 1 to ${MAX_PARALLELISM} on one machine, up to ${MAX_CLUSTER_PARALLELISM} in cluster mode (env.cluster or tideway run --cluster). Each costs a pipeline per source; on one machine more than its cores adds memory and start-up time, not speed.`,
      }),
    checkpoint: z
      .object({
        interval: duration().default(10_000).meta({ description: 'Time between checkpoints (500ms, 10s, 5m). Rows become visible in exactly-once sinks at each checkpoint.' }),
        dir: z.string().default('.tideway/checkpoints').meta({ description: 'Checkpoint store directory, relative to the working directory.' }),
        timeout: duration().default(600_000).meta({ description: 'A checkpoint not complete after this long fails the job.' }),
        retain: z.number().int().min(1).default(2).meta({ description: 'Completed checkpoints kept on disk.' }),
      })
      .strict()
      .default({ interval: 10_000, dir: '.tideway/checkpoints', timeout: 600_000, retain: 2 })
      .meta({ description: 'Checkpoint settings.' }),
    transport: z
      .enum(['auto', 'in-process', 'worker-threads'])
      .default('auto')
      .meta({ description: 'Where pipelines run: auto uses worker threads when parallelism > 1.' }),
    queue_capacity: z.number().int().min(1).default(4).meta({ description: 'Batches buffered between a reader and its sinks (bounded memory).' }),
    errors: errorsSchema.optional().meta({ description: 'The dirty-data policy of every transform and sink: tolerance, max_errors, max_error_ratio, ratio_min_rows, dead_letter (README, "Dirty data"). A stage\'s own errors block overrides it.' }),
    read_limit: z
      .object({
        rows_per_second: z.number().positive().optional().meta({ description: 'Rows the whole job reads per second at most, shared among its active readers.' }),
        bytes_per_second: byteSize().optional().meta({ description: 'Bytes (Arrow in memory) the whole job reads per second at most, shared among its active readers; 10MB, 512KB or a number.' }),
      })
      .strict()
      .optional()
      .meta({ description: 'A read rate limit for the whole job, split evenly among the readers still reading (README, "Rate limits").' }),
    cluster: z
      .string()
      .regex(/^nats:\/\/\S+$/, 'a NATS URL such as nats://host:4222')
      .optional()
      .meta({ description: 'Run on a Tideway cluster: the NATS (JetStream) URL of its workers, as `tideway run --cluster` takes it. The run process coordinates; workers run the pipelines.' }),
    cluster_shared_paths: z
      .array(z.string())
      .optional()
      .meta({ description: 'In cluster mode, directories that every worker and the coordinator mount at the same place (NFS, a cluster filesystem); a file sink may write only under one of them.' }),
  })
  .strict();

export type EnvOptions = z.output<typeof envSchema>;

/** `env` as written: durations may be strings such as `10s`. */
export type EnvConfig = z.input<typeof envSchema>;
