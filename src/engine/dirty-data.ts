import { Field, makeData, RecordBatch, Schema, Struct, Utf8, vectorFromArray } from 'apache-arrow';
import { TidewayError } from '../api/errors.js';
import type { Json } from '../api/json.js';
import { secretKeys } from '../api/options.js';
import type { RowError } from '../api/transform.js';
import { jsonValue } from '../formats/text/arrow-to-text.js';
import type { ErrorsConfig } from './job-config.js';

/**
 * Dirty data: what happens to a row that a transform or a sink rejects (`context.reject`).
 *
 * Each transform and sink has a policy: `env.errors`, overridden field by field by the stage's own `errors`
 * block. `tolerance: none` (the default) fails the job at the first bad row. `tolerance: all` counts bad rows
 * per stage and, with `dead_letter`, writes each one to that sink (planned as an extra sink with writers in
 * every pipeline, so it is committed with the job's checkpoints like any other output). `max_errors` and
 * `max_error_ratio` fail the job once a stage's count crosses them; the counts a limit uses are kept in the
 * checkpoint, so a resumed run neither starts with a fresh budget nor counts twice the rows it re-processes.
 */
export interface ErrorPolicy {
  readonly tolerance: 'none' | 'all';
  /** More rejected rows than this fails the job. */
  readonly maxErrors: number | null;
  /** A larger share of rejected rows (once `ratioMinRows` rows were seen) fails the job. */
  readonly maxErrorRatio: number | null;
  readonly ratioMinRows: number;
  /** Index in `plan.sinks` of the dead-letter sink, or null. */
  readonly deadLetter: number | null;
  /** The key paths that set the limits, for messages: `env.errors` or `transform[0].errors`. */
  readonly origin: string;
}

export const DEFAULT_RATIO_MIN_ROWS = 1000;
/** Rejected rows each pipeline keeps per stage to show when the job fails. */
export const ERROR_SAMPLES = 3;
const SAMPLE_ROW_CHARS = 200;

export const FAIL_FAST: ErrorPolicy = { tolerance: 'none', maxErrors: null, maxErrorRatio: null, ratioMinRows: DEFAULT_RATIO_MIN_ROWS, deadLetter: null, origin: 'env.errors' };

/** A policy block merged from env.errors and a stage's errors block, before its dead-letter sink is planned. */
export interface MergedPolicy {
  policy: Omit<ErrorPolicy, 'deadLetter'>;
  /** The dead_letter block that applies, and the key path it was written at. */
  deadLetter: { block: Record<string, unknown>; path: string } | undefined;
  /** Problems of the combination (for example max_errors with tolerance none). */
  problems: { path: string; message: string }[];
}

/** The stage's policy: its own fields where it sets them, the job's otherwise. */
export function mergePolicy(env: ErrorsConfig | undefined, stage: ErrorsConfig | undefined, stagePath: string): MergedPolicy {
  const pick = <K extends keyof ErrorsConfig>(key: K): { value: ErrorsConfig[K]; path: string } | undefined => {
    if (stage?.[key] !== undefined) return { value: stage[key], path: `${stagePath}.errors.${key}` };
    if (env?.[key] !== undefined) return { value: env[key], path: `env.errors.${key}` };
    return undefined;
  };
  const tolerance = pick('tolerance')?.value ?? 'none';
  const maxErrors = pick('max_errors');
  const ratio = pick('max_error_ratio');
  const minRows = pick('ratio_min_rows');
  const deadLetter = pick('dead_letter');
  const problems: MergedPolicy['problems'] = [];
  if (tolerance === 'none') {
    for (const set of [maxErrors, ratio, minRows, deadLetter]) {
      if (!set) continue;
      const key = set.path.slice(set.path.lastIndexOf('.') + 1);
      problems.push({
        path: set.path,
        message: `${key} applies only with tolerance: all (with tolerance: none, the default, the first bad row fails the job); add tolerance: all next to it`,
      });
    }
  }
  const origin = stage && Object.keys(stage).length > 0 ? `${stagePath}.errors` : 'env.errors';
  return {
    policy: {
      tolerance,
      maxErrors: maxErrors?.value ?? null,
      maxErrorRatio: ratio?.value ?? null,
      ratioMinRows: minRows?.value ?? DEFAULT_RATIO_MIN_ROWS,
      origin,
    },
    deadLetter: deadLetter?.value ? { block: deadLetter.value, path: deadLetter.path } : undefined,
    problems,
  };
}

/**
 * The columns of a dead-letter row. Every value is the same in a failed run and in the run that resumes it
 * (no wall-clock time), so a row re-processed after a restore is written again identically.
 */
export const DEAD_LETTER_SCHEMA = new Schema([
  new Field('job', new Utf8(), false),
  new Field('stage', new Utf8(), false),
  new Field('stage_type', new Utf8(), false),
  new Field('error_code', new Utf8(), false),
  new Field('error_message', new Utf8(), false),
  new Field('column', new Utf8(), true),
  new Field('row_json', new Utf8(), false),
]);

/**
 * Row `row` of `batch` as JSON text, without loss: 64-bit integers beyond 2^53 and decimals as strings of
 * their exact digits, dates and timestamps as ISO 8601 with every digit of their unit, binary as base64
 * (the JSON Lines mapping of src/formats/text/arrow-to-text.ts).
 */
export function rowJson(batch: RecordBatch, row: number): string {
  const out: Record<string, Json> = {};
  batch.schema.fields.forEach((field, c) => {
    const data = batch.data.children[c];
    out[field.name] = data ? jsonValue(data, row) : null;
  });
  return JSON.stringify(out);
}

/** A stage that may reject rows, as the engine names it in counts, messages and dead-letter rows. */
export interface StageRef {
  /** `transform:<name>` or `sink:<name>`: the key of its committed counts in the checkpoint. */
  readonly key: string;
  readonly path: string;
  readonly name: string;
  readonly type: string;
  readonly policy: ErrorPolicy;
}

/** What a limit is judged on: rows that entered the stage and rows it rejected. */
export interface StageCounts {
  rowsIn: number;
  errors: number;
}

/** A rejected row as shown in a failure message: secrets masked, the row cut short. */
export interface ErrorSample {
  row: string;
  code: string;
  message: string;
  column?: string;
}

/**
 * Replaces each secret value with `***`. Values shorter than 4 characters are left alone: masking every
 * "ab" in a message would garble it without protecting anything.
 */
export class SecretMask {
  private readonly secrets: string[];

  constructor(secrets: Iterable<string>) {
    this.secrets = [...new Set(secrets)].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  }

  /** The secret option values of every stage: each leaf of an option its connector marks secret. */
  static ofStages(stages: readonly { options: Record<string, unknown>; factory: { options: Parameters<typeof secretKeys>[0] } | undefined }[]): SecretMask {
    const values: string[] = [];
    for (const stage of stages) {
      if (!stage.factory) continue;
      for (const key of secretKeys(stage.factory.options)) values.push(...leaves(stage.options[key]));
    }
    return new SecretMask(values);
  }

  apply(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('***');
    return out;
  }
}

function leaves(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  if (typeof value === 'string') return [value];
  if (typeof value === 'number' || typeof value === 'bigint') return [String(value)];
  if (Array.isArray(value)) return value.flatMap(leaves);
  if (typeof value === 'object') return Object.values(value).flatMap(leaves);
  return [];
}

/**
 * The rows one stage rejected in one batch. `reject` records the first error of each row; with
 * `tolerance: none` it throws at once, failing the job with the stage, the row and its error.
 */
export class BatchRejections {
  readonly rows = new Map<number, RowError>();

  constructor(
    readonly stage: StageRef,
    private readonly batch: RecordBatch,
    private readonly mask: SecretMask,
  ) {}

  reject = (row: number, error: RowError): void => {
    if (!Number.isInteger(row) || row < 0 || row >= this.batch.numRows) {
      throw new TidewayError('ILLEGAL_STATE', `${this.stage.path} (${this.stage.name}) rejected row ${row} of a batch of ${this.batch.numRows} rows; reject takes the row's index in the input batch`);
    }
    if (this.stage.policy.tolerance === 'none') {
      const column = error.column ? ` (column ${error.column})` : '';
      throw new TidewayError(
        error.code,
        `${this.stage.path} (${this.stage.name}) rejected row ${row} of a batch${column}: ${this.mask.apply(error.message)}; row ${cut(rowJson(this.batch, row))}. ` +
          `Fix the data or the stage, or set errors: { tolerance: all, dead_letter: <sink> } (on the stage or in env) to record bad rows and go on`,
        { context: { connector: this.stage.type, path: this.stage.path, ...(error.column ? { column: error.column } : {}) } },
      );
    }
    if (!this.rows.has(row)) this.rows.set(row, error);
  };

  /** The rows to send to the dead-letter sink, in row order. */
  deadLetterBatch(jobName: string): RecordBatch {
    const entries = [...this.rows.entries()].sort(([a], [b]) => a - b);
    const column = (values: (string | null)[]) => vectorFromArray(values, new Utf8()).data[0]!;
    const children = [
      column(entries.map(() => jobName)),
      column(entries.map(() => this.stage.name)),
      column(entries.map(() => this.stage.type)),
      column(entries.map(([, e]) => e.code)),
      column(entries.map(([, e]) => this.mask.apply(e.message))),
      column(entries.map(([, e]) => e.column ?? null)),
      column(entries.map(([row]) => rowJson(this.batch, row))),
    ];
    return new RecordBatch(DEAD_LETTER_SCHEMA, makeData({ type: new Struct(DEAD_LETTER_SCHEMA.fields), length: entries.length, nullCount: 0, children }));
  }

  /** Up to `room` rejected rows to show in a failure message. */
  samples(room: number): ErrorSample[] {
    const out: ErrorSample[] = [];
    for (const [row, error] of this.rows) {
      if (out.length >= room) break;
      out.push({ row: cut(rowJson(this.batch, row)), code: error.code, message: this.mask.apply(error.message), ...(error.column ? { column: error.column } : {}) });
    }
    return out;
  }
}

function cut(text: string): string {
  return text.length <= SAMPLE_ROW_CHARS ? text : `${text.slice(0, SAMPLE_ROW_CHARS)}...`;
}

/**
 * Why `counts` cross the stage's limits, or undefined. `max_errors`: more rejected rows than it. The ratio:
 * rejected / rows in above `max_error_ratio`, judged only once `ratio_min_rows` rows entered the stage.
 */
export function limitCrossed(policy: ErrorPolicy, counts: StageCounts): string | undefined {
  if (policy.tolerance !== 'all') return undefined;
  if (policy.maxErrors !== null && counts.errors > policy.maxErrors) {
    return `more than max_errors (${policy.maxErrors}) set in ${policy.origin}`;
  }
  if (policy.maxErrorRatio !== null && counts.rowsIn >= policy.ratioMinRows && counts.rowsIn > 0 && counts.errors / counts.rowsIn > policy.maxErrorRatio) {
    return `${formatRatio(counts.errors / counts.rowsIn)} of its rows, above max_error_ratio (${policy.maxErrorRatio}) set in ${policy.origin}`;
  }
  return undefined;
}

function formatRatio(ratio: number): string {
  return `${(ratio * 100).toPrecision(3)}%`;
}

/** The error that fails a job whose stage crossed its limit; `counted` says over what the counts run. */
export function limitError(stage: StageRef, counts: StageCounts, why: string, samples: readonly ErrorSample[], counted: string): TidewayError {
  const shown = samples
    .slice(0, ERROR_SAMPLES)
    .map((s) => `[${s.code}] ${s.message}${s.column ? ` (column ${s.column})` : ''}; row ${s.row}`)
    .join(' | ');
  return new TidewayError(
    'DIRTY_DATA_LIMIT',
    `${stage.path} (${stage.name}) rejected ${counts.errors} of ${counts.rowsIn} rows (${counted}), ${why}. ` +
      `${shown ? `First errors: ${shown}. ` : ''}` +
      `Fix the data or the stage, or raise the limit; rows committed so far stay, and the next run resumes from the last checkpoint with the counts it holds`,
    { context: { connector: stage.type, path: stage.path } },
  );
}

/** The counts of `stage` after adding `more`. */
export function addCounts(a: StageCounts | undefined, b: StageCounts | undefined): StageCounts {
  return { rowsIn: (a?.rowsIn ?? 0) + (b?.rowsIn ?? 0), errors: (a?.errors ?? 0) + (b?.errors ?? 0) };
}

/** The parts of a planned transform or sink that dirty data needs. */
export interface DirtyStage {
  readonly path: string;
  readonly name: string;
  readonly type: string;
  readonly errors?: ErrorPolicy | undefined;
  readonly deadLetterFor?: string | undefined;
}

export function stageRef(section: 'transform' | 'sink', stage: DirtyStage): StageRef {
  return { key: `${section}:${stage.name}`, path: stage.path, name: stage.name, type: stage.type, policy: stage.errors ?? FAIL_FAST };
}

/** What the budget reads of one pipeline's metrics (see messages.ts, PipelineMetrics). */
export interface StageMetrics {
  transforms: Record<number, { rowsIn: number; rowsErrored: number }>;
  sinks: Record<number, { rowsWritten: number; rowsErrored: number }>;
  errorSamples: Record<string, ErrorSample[]>;
}

/**
 * The coordinator's view of the limits: counts committed by earlier runs (from the checkpoint this run
 * resumed) plus what this run's pipelines report. A checkpoint stores `base + counts at its barrier`, so a
 * row counted before a checkpoint is never counted again, and a row re-processed after a restore is counted
 * once, in the run that commits it.
 */
export class ErrorBudget {
  private readonly stages: { ref: StageRef; count: (m: StageMetrics) => StageCounts }[] = [];

  constructor(
    plan: { transforms: readonly DirtyStage[]; sinks: readonly DirtyStage[] },
    private readonly base: Readonly<Record<string, StageCounts>> = {},
  ) {
    plan.transforms.forEach((stage, i) => {
      if (stage.errors?.tolerance !== 'all') return;
      this.stages.push({ ref: stageRef('transform', stage), count: (m) => ({ rowsIn: m.transforms[i]?.rowsIn ?? 0, errors: m.transforms[i]?.rowsErrored ?? 0 }) });
    });
    plan.sinks.forEach((stage, i) => {
      if (stage.errors?.tolerance !== 'all' || stage.deadLetterFor !== undefined) return;
      this.stages.push({
        ref: stageRef('sink', stage),
        count: (m) => ({ rowsIn: (m.sinks[i]?.rowsWritten ?? 0) + (m.sinks[i]?.rowsErrored ?? 0), errors: m.sinks[i]?.rowsErrored ?? 0 }),
      });
    });
  }

  /** Counts over earlier runs and `metrics` (one entry per pipeline), by stage key. */
  counts(metrics: Iterable<StageMetrics>): Record<string, StageCounts> {
    const all = [...metrics];
    const out: Record<string, StageCounts> = {};
    for (const { ref, count } of this.stages) {
      let total = addCounts(this.base[ref.key], undefined);
      for (const m of all) total = addCounts(total, count(m));
      out[ref.key] = total;
    }
    return out;
  }

  /** The error that fails the job when a stage crossed its limit, judged on earlier runs plus `metrics`. */
  check(metrics: Iterable<StageMetrics>): TidewayError | undefined {
    const all = [...metrics];
    const counts = this.counts(all);
    for (const { ref } of this.stages) {
      const total = counts[ref.key]!;
      const why = limitCrossed(ref.policy, total);
      if (!why) continue;
      const samples = all.flatMap((m) => m.errorSamples[ref.key] ?? []);
      const earlier = this.base[ref.key]?.errors ?? 0;
      return limitError(ref, total, why, samples, earlier > 0 ? `${earlier} of the rejected rows in earlier runs of this job` : 'in this run');
    }
    return undefined;
  }
}

/** Every `dead_letter` block a job writes (in env.errors and in stage errors blocks), with its key path, valid or not. */
export function deadLetterBlocks(config: unknown): { block: Record<string, unknown>; path: string }[] {
  const out: { block: Record<string, unknown>; path: string }[] = [];
  const from = (errors: unknown, path: string) => {
    const block = isRecord(errors) ? errors.dead_letter : undefined;
    if (isRecord(block)) out.push({ block, path: `${path}.errors.dead_letter` });
  };
  if (!isRecord(config)) return out;
  if (isRecord(config.env)) from(config.env.errors, 'env');
  for (const section of ['transform', 'sink'] as const) {
    const stages = config[section];
    if (Array.isArray(stages)) stages.forEach((stage, i) => from(isRecord(stage) ? stage.errors : undefined, `${section}[${i}]`));
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
