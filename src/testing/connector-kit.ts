import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ConnectorDefinition } from '../api/connector.js';
import { silentLogger } from '../api/logger.js';
import { type CheckpointStore, LocalCheckpointStore } from '../engine/checkpoint-store.js';
import { inProcessTransport } from '../engine/in-process-transport.js';
import type { JobConfig, StageConfig } from '../engine/job-config.js';
import { ConnectorRegistry } from '../engine/registry.js';
import type { JobResult } from '../engine/result.js';
import { runJob } from '../engine/run-job.js';
import type { TransportFactory } from '../engine/transport.js';
import { describeFault, type Fault, FaultSession } from './fault-injection.js';
import { faultyTransport } from './faulty-transport.js';
import { seededRandom } from './random.js';

/**
 * The connector test kit: one failure-and-resume suite that every source and sink runs.
 *
 * A subject is a job around the connector under test whose output can be read back: a source under test
 * writes into a sink the kit can inspect (the file sink, see `fileSinkOutput`), a sink under test is fed
 * by the fake source (ids 0..rows-1, see `fakeSource`). For each seed the kit runs the job under a
 * transport that delays, duplicates and reorders every control message, injects a chain of failures (a
 * reader throwing mid-split, prepareCommit or commit throwing, a slow checkpoint save that fails before or
 * after it landed, a pipeline dying as its worker thread would, a graceful stop), resumes after each, and
 * finally checks that the committed output holds every id exactly once and that nothing staged remains.
 *
 * ```ts
 * const subject: KitSubject = {
 *   name: 'fake -> my sink',
 *   connectors: [...builtinConnectors, mySinkConnector],
 *   async setup(context) {
 *     const target = await createTarget(context.unique); // a table, bucket or directory of this seed's own
 *     return { ...fakeSource(context), sink: [{ type: 'my-sink', target }], committedIds: () => readIds(target), leftovers: () => listStaged(target) };
 *   },
 *   teardown: (context) => dropTarget(context.unique),
 * };
 * it.each(kitSeeds(20))('seed %i', async (seed) => {
 *   const report = await runFailureAndResume(subject, seed);
 *   expect(report.problem, report.describe()).toBeUndefined();
 * });
 * ```
 *
 * A source under test returns its own stages and `expectedIds` (the ids its input holds, any integers) with
 * `...fileSinkOutput(dir)`. Each seed picks the parallelism (1 to `maxParallelism`), the input size (600 to
 * 3,000 rows), `splits` and `chunkRows`; a subject maps them onto its options. `describe()` names the seed
 * and the chain; `TIDEWAY_SEED=a,b` replays seeds and `TIDEWAY_KIT_SEEDS=n` runs more (see `kitSeeds`).
 * test/failure/ holds the suites of the connectors that ship with Tideway.
 */
export interface KitSubject {
  /** For messages. */
  readonly name: string;
  /** The connectors the job uses (the one under test and whatever else the job needs). */
  readonly connectors: readonly ConnectorDefinition[];
  /** Largest parallelism to try (default 8). */
  readonly maxParallelism?: number;
  /** Creates what one seed's job needs (a table, a bucket, input files) and returns the job's stages. */
  setup(context: KitContext): Promise<KitJob>;
  /** Removes what setup created. */
  teardown?(context: KitContext): Promise<void>;
}

export interface KitContext {
  readonly seed: number;
  readonly parallelism: number;
  /** Rows of the job's input, chosen from the seed. */
  readonly rows: number;
  /** Splits to cut the input into, where the source lets the job say so. */
  readonly splits: number;
  /** Rows per chunk (`chunk_rows`) where the source has that option. */
  readonly chunkRows: number;
  /** A fresh directory for this seed: checkpoints, output files. */
  readonly workDir: string;
  /** A name unique to this seed, for tables, prefixes and job names. */
  readonly unique: string;
  readonly random: () => number;
}

export interface KitJob {
  source: StageConfig[];
  transform?: StageConfig[];
  sink: StageConfig[];
  /** Every id the committed output must hold exactly once. */
  expectedIds: readonly number[];
  /** The ids committed so far (all of them, with repeats). */
  committedIds(): Promise<number[]>;
  /** Staged output no commit owns (files, uploads, staging tables); must be empty after a finished run. */
  leftovers(): Promise<string[]>;
}

export interface KitRun {
  faults: string[];
  fired: string[];
  status: JobResult['status'];
  error: string | null;
  resumedFrom: number | null;
}

export interface KitReport {
  seed: number;
  parallelism: number;
  rows: number;
  runs: KitRun[];
  /** Runs that resumed an earlier run's checkpoint. */
  resumes: number;
  /** Undefined when every id was committed exactly once and nothing staged remained. */
  problem: string | undefined;
  describe(): string;
}

export interface KitOptions {
  /** Faulty runs before the last run (default: 3 to 5, from the seed). */
  faultyRuns?: number;
  /** Checkpoint interval (default: 2 to 20 ms, from the seed). */
  checkpointIntervalMs?: number;
  /** Extra time for a subject whose commits are slow (default 60 s per run). */
  runTimeoutMs?: number;
  /**
   * Where a run's pipelines run (default: in-process), given the run's connector registry (wrapped to inject
   * faults). The kit still wraps it to delay, duplicate and reorder every message.
   */
  transport?: (registry: ConnectorRegistry) => TransportFactory;
  /** A run's checkpoint store (default: a directory under the seed's workDir), given the job name. */
  checkpointStore?: (job: string) => CheckpointStore;
}

/** Seeds for a kit test: TIDEWAY_SEED=a,b replays those; TIDEWAY_KIT_SEEDS=n runs n seeds instead of `count`. */
export function kitSeeds(count: number, first = 1): number[] {
  const replay = process.env.TIDEWAY_SEED;
  if (replay) return replay.split(',').map(Number);
  const n = Number(process.env.TIDEWAY_KIT_SEEDS ?? count);
  return Array.from({ length: n }, (_, i) => first + i);
}

/** The job a seed runs: parallelism 1 to the subject's maximum, input size, chunk size. */
export function kitContext(subject: KitSubject, seed: number, workDir: string): KitContext {
  const random = seededRandom(seed * 7919 + 17);
  const max = subject.maxParallelism ?? 8;
  return {
    seed,
    parallelism: 1 + (seed % max),
    rows: 600 + Math.floor(random() * 2400),
    splits: 1 + Math.floor(random() * 24),
    chunkRows: 10 + Math.floor(random() * 50),
    workDir,
    unique: `kit${seed}x${Math.floor(random() * 1e9).toString(36)}`,
    random,
  };
}

/**
 * One seed's chain of faults: every run but the last gets one or two drawn at random, and a backstop that
 * fires early enough that the run cannot finish first: each run reads less than a `runs + 1`-th of the
 * input, so every faulty run ends failed or stopped and the next one resumes it.
 */
export function faultChain(random: () => number, runs: number, rows: number): Fault[][] {
  const chain: Fault[][] = [];
  const early = Math.max(1, Math.floor(rows / (runs + 1)));
  const row = () => 1 + Math.floor(random() * early);
  const call = () => 1 + Math.floor(random() * 3);
  const one = (): Fault => {
    switch (Math.floor(random() * 6)) {
      case 0:
        return { kind: 'reader-throws', atRow: row(), afterEmit: random() < 0.5 };
      case 1:
        return { kind: 'prepare-throws', call: call() };
      case 2:
        return { kind: 'commit-throws', call: call(), afterCommit: random() < 0.5 };
      case 3:
        return { kind: 'save-fails', call: call(), afterLanding: random() < 0.6, slowMs: Math.floor(random() * 30), readerFailsDuring: random() < 0.5 };
      case 4:
        return { kind: 'pipeline-dies', atRow: row() };
      default:
        return { kind: 'stop', atRow: row() };
    }
  };
  const backstop = (): Fault => {
    // The backstop fires after the rows that cross its mark, so the run's reading stays under the mark
    // plus one chunk; the mark leaves room for that chunk.
    const at = Math.max(1, Math.floor(random() * early * 0.8));
    // Not a graceful stop: the run reads on until its next barrier, and may finish first.
    return random() < 0.6 ? { kind: 'reader-throws', atRow: at, afterEmit: true } : { kind: 'pipeline-dies', atRow: at };
  };
  for (let i = 0; i < runs; i++) chain.push(random() < 0.3 ? [one(), one(), backstop()] : [one(), backstop()]);
  return chain;
}

/**
 * Runs one seed: the faulty runs, each resuming the one before, then runs without injected failures until
 * the job finishes. Never throws for a wrong result: the report's `problem` says what went wrong.
 *
 * `workDir` is the seed's directory (checkpoints, output files); without one, the kit makes a temporary
 * directory and removes it once the seed is done.
 */
export async function runFailureAndResume(subject: KitSubject, seed: number, workDir?: string, options: KitOptions = {}): Promise<KitReport> {
  if (workDir !== undefined) return runSeed(subject, seed, workDir, options);
  const temporary = await mkdtemp(join(tmpdir(), 'tideway-kit-'));
  try {
    return await runSeed(subject, seed, temporary, options);
  } finally {
    await rm(temporary, { recursive: true, force: true });
  }
}

async function runSeed(subject: KitSubject, seed: number, workDir: string, options: KitOptions): Promise<KitReport> {
  const context = kitContext(subject, seed, workDir);
  const job = await subject.setup(context);
  const runs: KitRun[] = [];
  const report: KitReport = {
    seed,
    parallelism: context.parallelism,
    rows: context.rows,
    runs,
    resumes: 0,
    problem: undefined,
    describe: () => describeReport(subject, report),
  };
  try {
    const chain = faultChain(context.random, options.faultyRuns ?? 3 + Math.floor(context.random() * 3), context.rows);
    const interval = options.checkpointIntervalMs ?? 2 + Math.floor(context.random() * 18);
    const config: JobConfig = {
      env: { name: context.unique, parallelism: context.parallelism, transport: 'in-process', checkpoint: { interval, dir: resolve(workDir, 'checkpoints'), timeout: options.runTimeoutMs ?? 60_000 } },
      source: job.source,
      ...(job.transform ? { transform: job.transform } : {}),
      sink: job.sink,
    };
    let finished = false;
    for (let attempt = 0; !finished && attempt < chain.length + 3; attempt++) {
      const faults = chain[attempt] ?? [];
      const session = new FaultSession(faults);
      const registry = new ConnectorRegistry(session.connectors(subject.connectors));
      const inner = options.transport?.(registry) ?? inProcessTransport(silentLogger);
      const transport = session.transport(faultyTransport(inner, { seed: seed * 131 + attempt, maxDelayMs: 4, duplicateRate: 0.3 }));
      const result = await runJob(config, {
        registry,
        logger: silentLogger,
        transport,
        checkpointStore: session.store(options.checkpointStore?.(context.unique) ?? new LocalCheckpointStore(resolve(workDir, 'checkpoints'), context.unique)),
        signal: session.stopController.signal,
      });
      runs.push({ faults: faults.map(describeFault), fired: [...session.fired], status: result.status, error: result.error ? `[${result.error.code}] ${result.error.message}` : null, resumedFrom: result.resumedFromCheckpoint });
      if (result.resumedFromCheckpoint !== null) report.resumes++;
      if (result.status === 'failed' && !result.error?.message.includes('injected fault') && result.error?.code !== 'PIPELINE_CRASHED') {
        report.problem = `run ${attempt + 1} failed without an injected fault: [${result.error?.code}] ${result.error?.message}`;
        return report;
      }
      const committed = await job.committedIds();
      const repeated = firstRepeat(committed);
      if (repeated !== undefined) {
        report.problem = `after run ${attempt + 1} (${result.status}), id ${repeated} is committed more than once`;
        return report;
      }
      finished = result.status === 'finished';
    }
    if (!finished) {
      report.problem = `the job did not finish in ${runs.length} runs`;
      return report;
    }
    report.problem = exactlyOnce(await job.committedIds(), job.expectedIds);
    const left = await job.leftovers();
    if (!report.problem && left.length > 0) report.problem = `${left.length} staged item(s) remain after the job finished, e.g. ${left[0]}`;
    return report;
  } finally {
    await subject.teardown?.(context);
  }
}

function firstRepeat(ids: readonly number[]): number | undefined {
  const seen = new Set<number>();
  for (const id of ids) {
    if (seen.has(id)) return id;
    seen.add(id);
  }
  return undefined;
}

/** Undefined when `committed` holds each expected id once and nothing else. */
export function exactlyOnce(committed: readonly number[], expected: readonly number[]): string | undefined {
  const counts = new Map<number, number>();
  for (const id of committed) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const id of expected) {
    const n = counts.get(id) ?? 0;
    if (n !== 1) return `id ${id} is committed ${n} times`;
    counts.delete(id);
  }
  const extra = counts.keys().next();
  if (!extra.done) return `id ${extra.value} is committed but is not in the source`;
  return undefined;
}

function describeReport(subject: KitSubject, report: KitReport): string {
  const lines = [
    `${subject.name}, seed ${report.seed} (replay: TIDEWAY_SEED=${report.seed}), parallelism ${report.parallelism}, ${report.rows} rows, ${report.resumes} resumes`,
    ...report.runs.map((r, i) => `  run ${i + 1}: ${r.status}${r.resumedFrom !== null ? ` (resumed from ${r.resumedFrom})` : ''}; faults: ${r.faults.join('; ') || 'none'}; fired: ${r.fired.join('; ') || 'none'}${r.error ? `; error: ${r.error}` : ''}`),
  ];
  if (report.problem) lines.push(`  problem: ${report.problem}`);
  return lines.join('\n');
}

/** Source stages of the fake source, for a sink under test: ids 0..rows-1. */
export function fakeSource(context: KitContext): { source: StageConfig[]; expectedIds: number[] } {
  return {
    source: [{ type: 'fake', rows: context.rows, splits: context.splits, chunk_rows: context.chunkRows, seed: context.seed }],
    expectedIds: Array.from({ length: context.rows }, (_, i) => i),
  };
}

/**
 * A file sink writing JSON Lines under `dir`, for a source under test: the committed ids are read back from
 * the `id` column of its files, and its leftovers are the files under its staging directory.
 */
export function fileSinkOutput(dir: string, idColumn = 'id'): Pick<KitJob, 'sink' | 'committedIds' | 'leftovers'> {
  return {
    sink: [{ type: 'file', path: dir, format: 'jsonl' }],
    committedIds: async () => {
      const ids: number[] = [];
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (!name.endsWith('.jsonl')) continue;
        for (const line of (await readFile(join(dir, name), 'utf8')).split('\n')) {
          if (line) ids.push(Number((JSON.parse(line) as Record<string, unknown>)[idColumn]));
        }
      }
      return ids;
    },
    leftovers: async () => {
      const staging = join(dir, '.tideway-staging');
      const entries = await readdir(staging, { recursive: true, withFileTypes: true }).catch(() => []);
      return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
    },
  };
}
