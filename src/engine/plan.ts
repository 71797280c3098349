import type { FactoryContext, SinkFactory, SourceFactory, TransformFactory } from '../api/connector.js';
import type { ConfigIssue } from '../api/errors.js';
import { ConfigError } from '../api/errors.js';
import { didYouMean, joinPath, maskSecrets, parseOptions } from '../api/options.js';
import { envSchema, type EnvOptions, type JobConfig, RESERVED_STAGE_KEYS, type StageConfig } from './job-config.js';
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
}

/**
 * Validates a job against the registry and wires its streams. Every problem is reported, each with the key
 * path it concerns. Input defaults: a transform reads the stage before it; a sink reads the last transform,
 * or the only source. With several sources, `input` is required.
 */
export function planJob(config: unknown, registry: ConnectorRegistry): { ok: true; plan: JobPlan } | { ok: false; issues: ConfigIssue[] } {
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
export function planJobOrThrow(config: JobConfig | unknown, registry: ConnectorRegistry): JobPlan {
  const result = planJob(config, registry);
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The factory context for a stage. */
export function factoryContext(plan: JobPlan, baseDir: string, logger: FactoryContext['logger']): FactoryContext {
  return { jobName: plan.env.name, mode: plan.env.mode, parallelism: plan.env.parallelism, logger, baseDir };
}

export { joinPath };
