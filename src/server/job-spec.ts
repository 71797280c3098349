import { isAbsolute, join, resolve } from 'node:path';
import type { ConfigIssue } from '../api/errors.js';
import { type LoadedJob, loadJobText } from '../config/load-job.js';
import { prepareCheckpointDir, verifyPlan } from '../config/verify-job.js';
import type { JobPlan } from '../engine/plan.js';
import type { ConnectorRegistry } from '../engine/registry.js';
import { dagLines } from '../cli/plan-text.js';
import { issuesText } from '../cli/errors.js';

/**
 * A job as it was submitted: the YAML text with its `${NAME}` references still in it, and the variables
 * given with it. Kept in the state directory so that a resume after a server restart runs the same job.
 */
export interface JobSpec {
  /** The job's YAML (a JSON submission's object is written out as YAML). */
  text: string;
  /** Shown in error positions (`job.yaml:4:7`). */
  file: string;
  variables: Record<string, string>;
  /** Variables whose values are secrets wherever they are used (variables that feed a secret option are found anyway). */
  secretVariables: string[];
}

/** A config problem as the API returns it: the CLI's code and text, and each issue with its position. */
export interface SpecProblem {
  code: string;
  message: string;
  issues: ConfigIssue[];
}

export interface PrepareOptions {
  registry: ConnectorRegistry;
  /** Variables the request does not set come from here, as `tideway run` takes them from the environment. */
  env: Readonly<Record<string, string | undefined>>;
  /** Relative paths in connector options resolve against this directory. */
  baseDir: string;
  /** Checkpoints of a job that does not set env.checkpoint.dir go here. */
  checkpointDir: string;
  /** The server runs every job on a cluster (`serve --cluster`): the cluster's parallelism limit applies. */
  cluster?: boolean;
}

export type PreparedJob = { ok: true; loaded: LoadedJob } | { ok: false; problem: SpecProblem; secrets: string[] };

/**
 * The validation `tideway run` does before it starts a job, for a job given as text: variables, the option
 * schemas, the plan, what verifyPlan finds without I/O, and the checkpoint directory (created here, so that a
 * file in its way is a located config error). Never throws for a bad job.
 */
export async function prepareJob(spec: JobSpec, options: PrepareOptions): Promise<PreparedJob> {
  const loaded = loadJobText(spec.text, spec.file, { registry: options.registry, vars: spec.variables, env: options.env, ...(options.cluster ? { cluster: true } : {}) });
  const secrets = [...loaded.secrets, ...spec.secretVariables.map((name) => spec.variables[name] ?? '').filter((v) => v !== '')];
  if (!loaded.ok) return { ok: false, problem: configProblem(spec.file, loaded.issues), secrets };
  const explicitDir = checkpointDirOf(loaded.config);
  const dir = explicitDir === undefined ? options.checkpointDir : isAbsolute(explicitDir) ? explicitDir : resolve(options.baseDir, explicitDir);
  // runJob resolves env.checkpoint.dir against the process's directory; an absolute path keeps baseDir's meaning.
  loaded.config.env = { ...loaded.config.env, checkpoint: { ...loaded.config.env.checkpoint, dir } };
  loaded.plan.env = { ...loaded.plan.env, checkpoint: { ...loaded.plan.env.checkpoint, dir } };
  const issues = await verifyPlan(loaded.plan, { baseDir: options.baseDir });
  if (issues.length > 0) return { ok: false, problem: configProblem(spec.file, issues.map((issue) => loaded.locations.attach(issue))), secrets };
  const checkpointProblem = await prepareCheckpointDir(loaded.plan, options.baseDir);
  if (checkpointProblem) {
    // As `tideway run --json` reports it: the path error's own code, the located text as the message.
    const { code, ...issue } = checkpointProblem;
    return { ok: false, problem: { ...configProblem(spec.file, [loaded.locations.attach(issue)]), code }, secrets };
  }
  return { ok: true, loaded: { ...loaded, secrets } };
}

function checkpointDirOf(config: { env?: unknown }): string | undefined {
  const env = config.env as { checkpoint?: { dir?: unknown } } | undefined;
  return typeof env?.checkpoint?.dir === 'string' ? env.checkpoint.dir : undefined;
}

export function configProblem(file: string, issues: readonly ConfigIssue[]): SpecProblem {
  return { code: 'CONFIG_INVALID', message: issuesText(file, issues).trimEnd(), issues: [...issues] };
}

/** The DAG of a job for its state: each stage's name, type and streams. */
export interface PlanSummary {
  mode: string;
  parallelism: number;
  checkpointInterval: number;
  stages: {
    name: string;
    kind: 'source' | 'transform' | 'sink';
    type: string;
    input: string | null;
    output: string | null;
    /** The dead-letter sink that receives the rows this stage rejects, if its policy names one. */
    deadLetterTo: string | null;
    /** True for a sink planned from a `dead_letter` block. */
    deadLetter: boolean;
  }[];
  /** Every path from a source to a sink, as `tideway check` prints it. */
  dag: string[];
}

export function planSummary(plan: JobPlan): PlanSummary {
  const stage = (kind: 'source' | 'transform' | 'sink') => (s: JobPlan['sources'][number] | JobPlan['transforms'][number] | JobPlan['sinks'][number]) => ({
    name: s.name,
    kind,
    type: s.type,
    input: s.input ?? null,
    output: s.output ?? null,
    deadLetterTo: s.errors?.deadLetter != null ? (plan.sinks[s.errors.deadLetter]?.name ?? null) : null,
    deadLetter: s.deadLetterFor !== undefined,
  });
  return {
    mode: plan.env.mode,
    parallelism: plan.env.parallelism,
    checkpointInterval: plan.env.checkpoint.interval,
    stages: [...plan.sources.map(stage('source')), ...plan.transforms.map(stage('transform')), ...plan.sinks.map(stage('sink'))],
    dag: dagLines(plan),
  };
}

/** The validated plan with every option, secrets as `***` (the API's `GET /api/jobs/{id}/plan`). */
export function maskedPlan(plan: JobPlan) {
  const stage = (s: JobPlan['sources'][number] | JobPlan['transforms'][number] | JobPlan['sinks'][number]) => ({
    path: s.path,
    name: s.name,
    type: s.type,
    input: s.input ?? null,
    output: s.output ?? null,
    options: s.maskedOptions,
  });
  return { env: plan.env, sources: plan.sources.map(stage), transforms: plan.transforms.map(stage), sinks: plan.sinks.map(stage), dag: dagLines(plan) };
}

export function checkpointRoot(stateDir: string): string {
  return join(stateDir, 'checkpoints');
}
