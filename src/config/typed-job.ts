/**
 * Compile-time types for jobs built in code. Every connector's options type is derived from its zod schema
 * (`z.input`, so durations and sizes may be strings as in YAML), so a wrong option name, a wrong value type or
 * an unknown connector `type` fails `tsc` instead of the run. Type-only imports: nothing here loads a
 * connector at run time, so the dependency direction (config never imports connectors) holds.
 *
 * A job that uses connectors of your own (a registry passed to runJob) is a plain `JobConfig`.
 */
import type { z } from 'zod';
import type { ConsoleSinkConfig } from '../../connectors/console/index.js';
import type { FakeOptions } from '../../connectors/fake/source.js';
import type { FileSinkConfig } from '../../connectors/file/index.js';
import type { FilterConfig } from '../../connectors/filter/index.js';
import type { maxComputeSourceOptions } from '../../connectors/maxcompute/options.js';
import type { sinkOptionsSchema as ossSinkOptions, sourceOptionsSchema as ossSourceOptions } from '../../connectors/oss/options.js';
import type { CopyConfig } from '../../connectors/copy/index.js';
import type { FieldMapperConfig } from '../../connectors/field_mapper/index.js';
import type { FilterRowKindConfig } from '../../connectors/filter_row_kind/index.js';
import type { JsonPathConfig } from '../../connectors/json_path/index.js';
import type { RenameConfig } from '../../connectors/rename/index.js';
import type { ReplaceConfig } from '../../connectors/replace/index.js';
import type { SelectConfig } from '../../connectors/select/index.js';
import type { SqlConfig } from '../../connectors/sql/index.js';
import type { SplitConfig } from '../../connectors/split/index.js';
import type { EnvConfig, JobConfig } from '../engine/job-config.js';

/** Options of each source type, as a job writes them. */
export interface SourceOptionsByType {
  /** Every fake option has a default. */
  fake: Partial<FakeOptions>;
  maxcompute: z.input<typeof maxComputeSourceOptions>;
  oss: z.input<typeof ossSourceOptions>;
  /** Not yet typed from its schema: any options. */
  mysql: LooseOptions;
  /** Not yet typed from its schema: any options. */
  postgres: LooseOptions;
}

/** Options of each transform type, as a job writes them. */
export interface TransformOptionsByType {
  filter: FilterConfig;
  select: SelectConfig;
  field_mapper: FieldMapperConfig;
  rename: RenameConfig;
  copy: CopyConfig;
  replace: ReplaceConfig;
  split: SplitConfig;
  json_path: JsonPathConfig;
  filter_row_kind: FilterRowKindConfig;
  sql: SqlConfig;
}

/** Options of each sink type, as a job writes them. */
export interface SinkOptionsByType {
  file: FileSinkConfig;
  console: ConsoleSinkConfig;
  // No options.
  blackhole: Record<never, never>;
  oss: z.input<typeof ossSinkOptions>;
  /** Not yet typed from its schema: any options. */
  assert: LooseOptions;
  /** Not yet typed from its schema: any options. */
  mysql: LooseOptions;
  /** Not yet typed from its schema: any options. */
  postgres: LooseOptions;
}

type LooseOptions = { [option: string]: unknown };

/** The keys every stage may have besides its connector's options. */
interface StageKeys {
  /** A display name for reports; defaults to the type (numbered when a type appears twice). */
  name?: string;
}

/** One stage block: `type` picks the connector and with it the options allowed next to it. */
export type TypedStage<M, Streams extends 'input' | 'output' | 'both'> = {
  [T in keyof M & string]: { type: T } & StageKeys & StreamKeys<Streams> & M[T];
}[keyof M & string];

type StreamKeys<S> = S extends 'input' ? { input?: string } : S extends 'output' ? { output?: string } : { input?: string; output?: string };

export type TypedSource = TypedStage<SourceOptionsByType, 'output'>;
export type TypedTransform = TypedStage<TransformOptionsByType, 'both'>;
export type TypedSink = TypedStage<SinkOptionsByType, 'input'>;

/** A job whose every stage is checked against its connector's options at compile time. */
export interface TypedJobConfig {
  env: EnvConfig;
  source: TypedSource[];
  transform?: TypedTransform[];
  sink: TypedSink[];
}

/**
 * Returns `job` unchanged, typed: `runJob(defineJob({ ... }))` makes `rows: 'lots'` or `type: 'kafka'` a
 * compile error. Validation at run time is unchanged (runJob still checks every option).
 */
export function defineJob(job: TypedJobConfig): JobConfig {
  return job as unknown as JobConfig;
}
