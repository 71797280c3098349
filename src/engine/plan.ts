import type { FactoryContext, SinkFactory, SourceFactory, TransformFactory } from '../api/connector.js';
import type { ConfigIssue } from '../api/errors.js';
import { ConfigError } from '../api/errors.js';
import { didYouMean, joinPath, maskSecrets, parseOptions } from '../api/options.js';
import { type ErrorPolicy, FAIL_FAST, mergePolicy } from './dirty-data.js';
import { envSchema, MAX_PARALLELISM, ONE_MACHINE_LIMIT, type EnvOptions, type ErrorsConfig, errorsSchema, type JobConfig, RESERVED_STAGE_KEYS, type StageConfig } from './job-config.js';
import type { Capability, ConnectorRegistry } from './registry.js';

/** A validated job: every stage resolved to its connector with parsed options, and the streams wired. */
export interface JobPlan {
  env: EnvOptions;
  sources: PlannedStage<SourceFactory>[];
  transforms: PlannedStage<TransformFactory>[];
  sinks: PlannedStage<SinkFactory>[];
}

export interface PlannedStage<F> {
  /** Position in the job: `source[0]`. */
  path: string;
  name: string;
  type: string;
  /** Stream read (transforms and sinks). */
  input?: string;
  /** Stream produced (sources and transforms). */
  output?: string;
  options: Record<string, unknown>;
  /** Options as shown to people: secrets replaced by `***`. */
  maskedOptions: Record<string, unknown>;
  factory: F;
  /** Transforms and sinks: the dirty-data policy that applies (env.errors merged with the stage's own). */
  errors?: ErrorPolicy;
  /**
   * Set on a sink planned from a `dead_letter` block (the key path of that block): it receives the rows
   * stages reject, in the dead-letter schema, from every pipeline; it reads no stream.
   */
  deadLetterFor?: string;
}

/**
 * Validates a job against the registry and wires its streams. Every problem is reported, each with the key
 * path it concerns. Input defaults: a transform reads the stage before it; a sink reads the last transform,
 * or the only source. With several sources, `input` is required.
 */
export interface PlanOptions {
  /** The job runs on a cluster (`tideway run --cluster`) even if its env does not say so: the cluster's parallelism limit applies. */
  cluster?: boolean;
}

export function planJob(config: unknown, registry: ConnectorRegistry, options: PlanOptions = {}): { ok: true; plan: JobPlan } | { ok: false; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  if (!isRecord(config)) return { ok: false, issues: [{ path: '', message: 'a job must be a mapping with env, source, transform and sink' }] };
  for (const key of Object.keys(config)) {
    if (!['env', 'source', 'transform', 'sink'].includes(key)) {
      const hint = didYouMean(key, ['env', 'source', 'transform', 'sink']);
      issues.push({ path: key, message: `unknown section "${key}"${hint ? `; did you mean "${hint}"?` : '; a job has env, source, transform and sink'}` });
    }
  }
  let env: EnvOptions | undefined;
  if (!isRecord(config.env)) {
    issues.push({ path: 'env', message: 'env is required: it needs at least `name` (the job identity used for checkpoints)' });
  } else {
    const parsed = parseOptions(envSchema, config.env, 'env');
    if (parsed.ok) env = parsed.value;
    else issues.push(...parsed.issues);
    if (env && env.parallelism > MAX_PARALLELISM && env.cluster === undefined && !options.cluster) {
      issues.push({ path: 'env.parallelism', message: ONE_MACHINE_LIMIT });
      env = undefined;
    }
  }

  const sources = stageList(config, 'source', true, issues);
  const transforms = stageList(config, 'transform', false, issues);
  const sinks = stageList(config, 'sink', true, issues);

  const plannedSources = sources.map((s, i) => planStage<SourceFactory>(s, `source[${i}]`, 'source', registry, issues));
  const plannedTransforms = transforms.map((s, i) => planStage<TransformFactory>(s, `transform[${i}]`, 'transform', registry, issues));
  const plannedSinks = sinks.map((s, i) => planStage<SinkFactory>(s, `sink[${i}]`, 'sink', registry, issues));
  nameStages([...plannedSources, ...plannedTransforms, ...plannedSinks]);
  for (const [section, stages] of [['source', plannedSources], ['transform', plannedTransforms], ['sink', plannedSinks]] as const) uniqueNames(section, stages, issues);
  // A section that is not a list is already reported; wiring without it would only add confusing follow-ups.
  const malformed = (['source', 'transform', 'sink'] as const).some((key) => config[key] !== undefined && config[key] !== null && !Array.isArray(config[key]));
  if (!malformed) wireStreams(plannedSources, plannedTransforms, plannedSinks, issues);
  planDirtyData(config, env, plannedTransforms, plannedSinks, registry, issues);

  if (issues.length > 0 || !env) return { ok: false, issues };
  return {
    ok: true,
    plan: {
      env,
      sources: plannedSources as PlannedStage<SourceFactory>[],
      transforms: plannedTransforms as PlannedStage<TransformFactory>[],
      sinks: plannedSinks as PlannedStage<SinkFactory>[],
    },
  };
}

/** planJob that throws a ConfigError listing every issue. */
export function planJobOrThrow(config: JobConfig | unknown, registry: ConnectorRegistry, options: PlanOptions = {}): JobPlan {
  const result = planJob(config, registry, options);
  if (!result.ok) throw new ConfigError(result.issues);
  return result.plan;
}

type Draft<F> = PlannedStage<F | undefined> & { explicitName: boolean };

function stageList(config: Record<string, unknown>, key: 'source' | 'transform' | 'sink', required: boolean, issues: ConfigIssue[]): StageConfig[] {
  const value = config[key];
  if (value === undefined || value === null) {
    if (required) issues.push({ path: key, message: `at least one ${key} is required` });
    return [];
  }
  if (!Array.isArray(value)) {
    const example = key === 'sink' ? 'blackhole' : key === 'source' ? 'fake' : 'filter';
    issues.push({ path: key, message: `${key} must be a list of stages, each starting with "- ": write "${key}:" then "  - type: ${example}" on the next line` });
    return [];
  }
  const list = value;
  if (required && list.length === 0) issues.push({ path: key, message: `at least one ${key} is required` });
  const out: StageConfig[] = [];
  list.forEach((item, i) => {
    if (!isRecord(item)) issues.push({ path: `${key}[${i}]`, message: `each ${key} must be a mapping with a "type"` });
    else out.push(item as StageConfig);
  });
  return out;
}

function planStage<F>(stage: StageConfig, path: string, capability: Capability, registry: ConnectorRegistry, issues: ConfigIssue[]): Draft<F> {
  const draft: Draft<F> = {
    path,
    name: typeof stage.name === 'string' ? stage.name : String(stage.type),
    explicitName: typeof stage.name === 'string',
    type: String(stage.type),
    options: {},
    maskedOptions: {},
    factory: undefined,
  };
  if (typeof stage.input === 'string') draft.input = stage.input;
  if (typeof stage.output === 'string') draft.output = stage.output;
  for (const key of ['name', 'input', 'output'] as const) {
    if (stage[key] !== undefined && typeof stage[key] !== 'string') issues.push({ path: `${path}.${key}`, message: `${key} must be a string` });
  }
  if (capability === 'source' && stage.input !== undefined) issues.push({ path: `${path}.input`, message: 'a source has no input; remove it' });
  if (capability === 'sink' && stage.output !== undefined) issues.push({ path: `${path}.output`, message: 'a sink has no output; remove it' });
  if (capability === 'source' && stage.errors !== undefined) {
    issues.push({ path: `${path}.errors`, message: 'a source has no errors block (transforms and sinks reject rows); move it to the transform or sink that rejects them, or to env.errors' });
  }
  if (typeof stage.type !== 'string' || stage.type === '') {
    issues.push({ path: `${path}.type`, message: `"type" is required; one of: ${registry.namesWith(capability).join(', ')}` });
    return draft;
  }
  const connector = registry.get(stage.type);
  const factory = connector?.[capability] as F | undefined;
  if (!factory) {
    const known = registry.namesWith(capability);
    const hint = didYouMean(stage.type, known);
    const what = connector ? `connector "${stage.type}" has no ${capability}` : `unknown ${capability} type "${stage.type}"`;
    issues.push({ path: `${path}.type`, message: `${what}${hint && hint !== stage.type ? `; did you mean "${hint}"?` : ''} (${capability}s: ${known.join(', ')})` });
    return draft;
  }
  draft.factory = factory;
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(stage)) if (!(RESERVED_STAGE_KEYS as readonly string[]).includes(key)) raw[key] = value;
  const schema = (factory as unknown as SourceFactory).options;
  const parsed = parseOptions(schema, raw, path);
  if (parsed.ok) {
    draft.options = parsed.value;
    draft.maskedOptions = maskSecrets(schema, parsed.value);
  } else {
    issues.push(...parsed.issues);
  }
  return draft;
}

function nameStages(stages: Draft<unknown>[]): void {
  const counts = new Map<string, number>();
  for (const s of stages) counts.set(s.name, (counts.get(s.name) ?? 0) + 1);
  const seen = new Map<string, number>();
  for (const s of stages) {
    if (s.explicitName || (counts.get(s.name) ?? 0) < 2) continue;
    const n = (seen.get(s.name) ?? 0) + 1;
    seen.set(s.name, n);
    s.name = `${s.name}#${n}`;
  }
}

/** Reports and checkpoints tell stages apart by name, so two stages of a section may not share one. */
function uniqueNames(section: string, stages: readonly Draft<unknown>[], issues: ConfigIssue[]): void {
  const first = new Map<string, Draft<unknown>>();
  for (const stage of stages) {
    const previous = first.get(stage.name);
    if (!previous) {
      first.set(stage.name, stage);
      continue;
    }
    issues.push({
      path: stage.explicitName ? `${stage.path}.name` : stage.path,
      message: `${section} name "${stage.name}" is already used by ${previous.path}; give each ${section} its own name (reports and checkpoints tell ${section}s apart by name)`,
    });
  }
}

function wireStreams(sources: Draft<unknown>[], transforms: Draft<unknown>[], sinks: Draft<unknown>[], issues: ConfigIssue[]): void {
  const producers = new Map<string, Draft<unknown>>();
  const declare = (stage: Draft<unknown>) => {
    if (!stage.output) return;
    const previous = producers.get(stage.output);
    if (previous) issues.push({ path: `${stage.path}.output`, message: `stream "${stage.output}" is already produced by ${previous.path}; give each output its own name` });
    else producers.set(stage.output, stage);
  };
  sources.forEach((s, i) => {
    if (!s.output) s.output = sources.length === 1 ? 'default' : `source${i}`;
    declare(s);
  });
  transforms.forEach((t, i) => {
    if (!t.output) t.output = `transform${i}`;
    declare(t);
  });
  const several = sources.length > 1;
  const defaultInput = (previous: Draft<unknown> | undefined, stage: Draft<unknown>, role: string) => {
    if (stage.input) return;
    if (several) {
      issues.push({ path: `${stage.path}.input`, message: `input is required when the job has several sources; name one of the streams: ${[...producers.keys()].join(', ')}` });
      return;
    }
    if (previous?.output) stage.input = previous.output;
    else issues.push({ path: `${stage.path}.input`, message: `${role} has nothing to read; add a source` });
  };
  transforms.forEach((t, i) => defaultInput(i === 0 ? sources[0] : transforms[i - 1], t, 'this transform'));
  sinks.forEach((s) => defaultInput(transforms.length > 0 ? transforms[transforms.length - 1] : sources[0], s, 'this sink'));
  for (const stage of [...transforms, ...sinks]) {
    if (!stage.input || producers.has(stage.input)) continue;
    const hint = didYouMean(stage.input, [...producers.keys()]);
    issues.push({
      path: `${stage.path}.input`,
      message: `no stage produces stream "${stage.input}"${hint ? `; did you mean "${hint}"?` : ''} (streams: ${[...producers.keys()].join(', ') || 'none'})`,
    });
  }
  for (const t of transforms) {
    const chain = new Set<Draft<unknown>>([t]);
    let current: Draft<unknown> | undefined = t;
    while (current?.input) {
      const up = producers.get(current.input);
      if (!up) break;
      if (chain.has(up)) {
        issues.push({ path: `${t.path}.input`, message: `streams form a cycle: ${[...chain].map((s) => s.path).join(' -> ')} -> ${up.path}; every chain must start at a source` });
        break;
      }
      chain.add(up);
      current = up;
    }
  }
}

/**
 * Resolves each transform's and sink's dirty-data policy and plans every dead_letter block in use as a sink
 * of its own (after the job's sinks, so sink indexes of an earlier checkpoint still match).
 */
function planDirtyData(
  config: Record<string, unknown>,
  env: EnvOptions | undefined,
  transforms: Draft<unknown>[],
  sinks: Draft<unknown>[],
  registry: ConnectorRegistry,
  issues: ConfigIssue[],
): void {
  const raw = { transform: config.transform, sink: config.sink };
  const deadLetters = new Map<string, number>();
  const jobSinks = sinks.length;
  // Only the job's own sinks: the dead-letter sinks appended below keep the fail-fast policy.
  for (const [section, stages] of [['transform', transforms], ['sink', sinks.slice(0, jobSinks)]] as const) {
    const list = Array.isArray(raw[section]) ? (raw[section] as unknown[]) : [];
    stages.forEach((stage, i) => {
      const block = (list[i] as Record<string, unknown> | undefined)?.errors;
      let own: ErrorsConfig | undefined;
      if (block !== undefined) {
        if (!isRecord(block)) {
          issues.push({ path: `${stage.path}.errors`, message: 'errors must be a mapping, e.g. { tolerance: all, dead_letter: { type: file, path: ./bad-rows } }' });
          return;
        }
        const parsed = parseOptions(errorsSchema, block, `${stage.path}.errors`);
        if (!parsed.ok) {
          issues.push(...parsed.issues);
          return;
        }
        own = parsed.value;
      }
      const merged = mergePolicy(env?.errors, own, stage.path);
      for (const problem of merged.problems) {
        if (!issues.some((i) => i.path === problem.path && i.message === problem.message)) issues.push(problem);
      }
      let deadLetter: number | null = null;
      if (merged.deadLetter && merged.problems.length === 0) {
        const known = deadLetters.get(merged.deadLetter.path);
        if (known !== undefined) deadLetter = known;
        else {
          deadLetter = sinks.length;
          deadLetters.set(merged.deadLetter.path, deadLetter);
          sinks.push(planDeadLetter(merged.deadLetter, merged.deadLetter.path.startsWith('env.') ? 'dead-letter' : `${stage.name}-dead-letter`, registry, issues));
        }
      }
      stage.errors = { ...merged.policy, deadLetter };
    });
  }
  const names = new Map<string, string>();
  for (const sink of sinks.slice(0, jobSinks)) names.set(sink.name, sink.path);
  for (const sink of sinks.slice(jobSinks)) {
    const previous = names.get(sink.name);
    if (previous) issues.push({ path: sink.path, message: `sink name "${sink.name}" is already used by ${previous}; give the dead_letter block its own name` });
    names.set(sink.name, sink.path);
  }
}

function planDeadLetter(deadLetter: { block: Record<string, unknown>; path: string }, defaultName: string, registry: ConnectorRegistry, issues: ConfigIssue[]): Draft<unknown> {
  const { block, path } = deadLetter;
  for (const key of ['input', 'output', 'errors'] as const) {
    if (block[key] !== undefined) issues.push({ path: `${path}.${key}`, message: `a dead-letter sink takes no ${key}: it receives the rejected rows of the stages whose policy names it (and a row it cannot write fails the job); remove it` });
  }
  const { input: _input, output: _output, errors: _errors, ...rest } = block;
  const draft = planStage<unknown>({ ...rest, type: rest.type as string }, path, 'sink', registry, issues);
  if (!draft.explicitName) draft.name = defaultName;
  draft.explicitName = true;
  draft.deadLetterFor = path;
  draft.errors = FAIL_FAST;
  return draft;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The factory context for a stage. */
export function factoryContext(plan: JobPlan, baseDir: string, logger: FactoryContext['logger']): FactoryContext {
  return { jobName: plan.env.name, mode: plan.env.mode, parallelism: plan.env.parallelism, logger, baseDir };
}

export { joinPath };
