import { readFile } from 'node:fs/promises';
import type { ConfigIssue } from '../api/errors.js';
import { ConfigError, describeError } from '../api/errors.js';
import type { JobConfig } from '../engine/job-config.js';
import { type JobPlan, planJob, type PlanOptions } from '../engine/plan.js';
import type { ConnectorRegistry } from '../engine/registry.js';
import { readYaml, type Substitution } from './read-yaml.js';
import { collectSecrets } from './secrets.js';
import type { SourceLocations } from './source-locations.js';
import type { VariableSources } from './variables.js';

export interface LoadJobOptions extends VariableSources {
  registry: ConnectorRegistry;
  /** The job will run on a cluster whatever its env says (`tideway run --cluster`): see PlanOptions. */
  cluster?: boolean;
}

export interface LoadedJob {
  ok: true;
  file: string;
  /** The job with variables substituted, as runJob takes it. */
  config: JobConfig;
  plan: JobPlan;
  /** Secret values of the job (and the variables that fed them), for masking free text. */
  secrets: string[];
  locations: SourceLocations;
}

export interface InvalidJob {
  ok: false;
  file: string;
  /** Every problem, each with its file:line:col when the file could be parsed. */
  issues: ConfigIssue[];
  secrets: string[];
  /** Present when the file was valid YAML, to locate later issues (for example from runJob). */
  locations?: SourceLocations;
}

export type LoadJobResult = LoadedJob | InvalidJob;

/** Reads, substitutes and validates a job file. Never throws for a bad file: problems come back as issues. */
export async function loadJobFile(file: string, options: LoadJobOptions): Promise<LoadJobResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : describeError(error);
    return { ok: false, file, issues: [{ path: '', message: `cannot read the job file ${file}: ${reason}` }], secrets: [] };
  }
  return loadJobText(text, file, options);
}

/**
 * Substitutes variables, then validates with planJob and locates every issue in the file.
 *
 * Typing rule: an unquoted value is typed after substitution as YAML would type the text (`parallelism: ${P}`
 * with P=4 is the number 4). When the option expects text instead (a password of digits, a name like `007`),
 * the substituted text is kept as it was, so no variable value is ever mangled into a number. A quoted value
 * (`"${P}"`) is always text.
 */
export function loadJobText(text: string, file: string, options: LoadJobOptions): LoadJobResult {
  const { registry } = options;
  const read = readYaml(text, file, options);
  const secretsOf = (value: unknown) => collectSecrets(value, registry, read.substitutions, options.vars, options.env);
  if (read.issues.length > 0) {
    return { ok: false, file, issues: read.issues, secrets: secretsOf(read.value), locations: read.locations };
  }
  const config = read.value;
  const planOptions = { cluster: options.cluster === true };
  let result = planJob(config, registry, planOptions);
  if (!result.ok) result = retryAsText(config, registry, planOptions, read.substitutions, result.issues);
  const secrets = secretsOf(config);
  if (!result.ok) {
    return { ok: false, file, issues: result.issues.map((issue) => read.locations.attach(issue)), secrets, locations: read.locations };
  }
  return { ok: true, file, config: config as JobConfig, plan: result.plan, secrets, locations: read.locations };
}

/** loadJobFile that throws a ConfigError with every located issue. */
export async function loadJobFileOrThrow(file: string, options: LoadJobOptions): Promise<LoadedJob> {
  const result = await loadJobFile(file, options);
  if (!result.ok) throw new ConfigError(result.issues, { context: { path: file } });
  return result;
}

/**
 * For each typed substitution that an issue points at, tries the plain text instead and keeps whichever the
 * schema accepts. A value the schema rejects either way stays typed, so its message is the natural one
 * (`parallelism: ${P}` with P=0 says "too small", not "expected number").
 */
function retryAsText(
  config: unknown,
  registry: ConnectorRegistry,
  planOptions: PlanOptions,
  substitutions: readonly Substitution[],
  issues: readonly ConfigIssue[],
): ReturnType<typeof planJob> {
  const candidates = substitutions.filter((s) => s.typed !== s.text && issues.some((i) => concerns(i.path, s.path)));
  if (candidates.length === 0) return { ok: false, issues: [...issues] };
  for (const s of candidates) setValue(s, s.text);
  const asText = planJob(config, registry, planOptions);
  if (asText.ok) return asText;
  let reverted = false;
  for (const s of candidates) {
    if (asText.issues.some((i) => concerns(i.path, s.path))) {
      setValue(s, s.typed);
      reverted = true;
    }
  }
  return reverted ? planJob(config, registry, planOptions) : asText;
}

function concerns(issuePath: string, valuePath: string): boolean {
  return issuePath === valuePath || issuePath.startsWith(`${valuePath}.`) || issuePath.startsWith(`${valuePath}[`);
}

function setValue(substitution: Substitution, value: unknown): void {
  if (Array.isArray(substitution.holder)) substitution.holder[substitution.key as number] = value;
  else substitution.holder[substitution.key as string] = value;
}
