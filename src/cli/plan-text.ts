import type { JobPlan, PlannedStage } from '../engine/plan.js';
import { formatInterval } from './format.js';

/**
 * The resolved job as `tideway check` prints it: settings with defaults filled in, every stage with its options
 * (secrets as `***`, from `maskedOptions`), and the DAG from each source to each sink.
 */
export function planText(plan: JobPlan, parallelismOverride?: number): string {
  const env = plan.env;
  const parallelism = parallelismOverride ?? env.parallelism;
  const out: string[] = [];
  out.push(`job ${env.name}`);
  out.push(`  mode          ${env.mode}`);
  out.push(`  parallelism   ${parallelism}${parallelismOverride !== undefined && parallelismOverride !== env.parallelism ? ` (--parallelism; the file says ${env.parallelism})` : ''}`);
  out.push(`  checkpoints   every ${formatInterval(env.checkpoint.interval)} in ${env.checkpoint.dir} (timeout ${formatInterval(env.checkpoint.timeout)}, keep ${env.checkpoint.retain})`);
  out.push(`  transport     ${env.transport}`);
  out.push(`  queue         ${env.queue_capacity} batches`);
  if (env.errors) out.push(`  errors        ${errorsText(env.errors)}`);
  if (env.read_limit) out.push(`  read limit    ${[env.read_limit.rows_per_second && `${env.read_limit.rows_per_second} rows/s`, env.read_limit.bytes_per_second && `${env.read_limit.bytes_per_second} bytes/s`].filter(Boolean).join(', ')}`);
  out.push('');
  section(out, 'sources', plan.sources, (s) => `-> ${s.output}`);
  section(out, 'transforms', plan.transforms, (s) => `${s.input} -> ${s.output}`);
  section(out, 'sinks', plan.sinks, (s) => (s.deadLetterFor !== undefined ? `<- rejected rows (${s.deadLetterFor})` : `<- ${s.input}`));
  out.push('dag');
  for (const line of dagLines(plan)) out.push(`  ${line}`);
  return `${out.join('\n')}\n`;
}

function section(out: string[], title: string, stages: readonly PlannedStage<unknown>[], streams: (s: PlannedStage<unknown>) => string): void {
  out.push(title);
  if (stages.length === 0) out.push('  (none)');
  for (const stage of stages) {
    const name = stage.name === stage.type ? stage.name : `${stage.name} (${stage.type})`;
    out.push(`  ${name}  [${stage.path}]  ${streams(stage)}`);
    const entries = Object.entries(stage.maskedOptions).filter(([, v]) => v !== undefined);
    const width = Math.max(0, ...entries.map(([k]) => k.length));
    for (const [key, value] of entries) out.push(`    ${`${key}:`.padEnd(width + 1)} ${show(value)}`);
  }
  out.push('');
}

/** `tolerance all, max_errors 100, dead letter: see sinks`: env.errors without the dead-letter block (listed with the sinks). */
function errorsText(errors: NonNullable<JobPlan['env']['errors']>): string {
  const { dead_letter: deadLetter, ...rest } = errors;
  const parts = Object.entries(rest).map(([key, value]) => `${key} ${String(value)}`);
  if (deadLetter) parts.push('dead letter: see sinks');
  return parts.join(', ');
}

function show(value: unknown): string {
  if (typeof value === 'string') return /^[\w./:@*+-]*$/.test(value) && value !== '' ? value : JSON.stringify(value);
  return JSON.stringify(value);
}

/** Every path from a source to a sink, e.g. `fake --orders--> upper --upper--> file`. */
export function dagLines(plan: JobPlan): string[] {
  const producers = new Map<string, PlannedStage<unknown>>();
  for (const s of [...plan.sources, ...plan.transforms]) if (s.output) producers.set(s.output, s);
  const lines: string[] = [];
  for (const sink of plan.sinks) {
    let text = sink.name;
    let stream = sink.input;
    const seen = new Set<PlannedStage<unknown>>();
    while (stream) {
      const producer = producers.get(stream);
      if (!producer || seen.has(producer)) break;
      seen.add(producer);
      text = `${producer.name} --${stream}--> ${text}`;
      stream = producer.input;
    }
    lines.push(text);
  }
  return lines;
}
