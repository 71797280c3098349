import { secretKeys } from '../api/options.js';
import { deadLetterBlocks } from '../engine/dirty-data.js';
import { RESERVED_STAGE_KEYS } from '../engine/job-config.js';
import type { Capability, ConnectorRegistry } from '../engine/registry.js';
import type { Substitution } from './read-yaml.js';

/**
 * Values shorter than this are not searched for in free text: masking every "ab" in a log would garble it
 * without protecting anything. They are still masked wherever the option itself is shown (`maskedOptions`).
 */
export const MIN_REDACTED_LENGTH = 4;

const STAGE_SECTIONS: readonly [string, Capability][] = [
  ['source', 'source'],
  ['transform', 'transform'],
  ['sink', 'sink'],
];

/**
 * Every secret value in a job, found through the option schemas of the connectors it names. Works on an
 * invalid job too (so error output can be masked): stages with an unknown type are skipped.
 */
export function collectSecrets(config: unknown, registry: ConnectorRegistry, substitutions: readonly Substitution[] = [], vars: Readonly<Record<string, string>> = {}, env: Readonly<Record<string, string | undefined>> = {}): string[] {
  const found = new Set<string>();
  const secretPaths: string[] = [];
  const blocks: [unknown, string, Capability][] = [];
  if (isRecord(config)) {
    for (const [section, capability] of STAGE_SECTIONS) {
      const stages = config[section];
      const list = Array.isArray(stages) ? stages : stages === undefined || stages === null ? [] : [stages];
      list.forEach((stage, index) => {
        blocks.push([stage, `${section}[${index}]`, capability]);
      });
    }
    // A dead_letter block is a sink block too (README, "Dirty data").
    for (const { block, path } of deadLetterBlocks(config)) blocks.push([block, path, 'sink']);
  }
  for (const [stage, path, capability] of blocks) {
    if (!isRecord(stage) || typeof stage.type !== 'string') continue;
    const factory = registry.get(stage.type)?.[capability];
    if (!factory) continue;
    for (const key of secretKeys(factory.options)) {
      if ((RESERVED_STAGE_KEYS as readonly string[]).includes(key) || stage[key] === undefined) continue;
      secretPaths.push(`${path}.${key}`);
      for (const text of leaves(stage[key])) found.add(text);
    }
  }
  // A variable that feeds a secret is itself a secret, whatever it is called and wherever else it is used.
  for (const substitution of substitutions) {
    if (!secretPaths.some((p) => substitution.path === p || substitution.path.startsWith(`${p}.`) || substitution.path.startsWith(`${p}[`))) continue;
    found.add(substitution.text);
    for (const name of substitution.variables) {
      const value = vars[name] ?? env[name];
      if (value) found.add(value);
    }
  }
  found.delete('');
  return [...found];
}

function leaves(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  if (typeof value === 'string') return [value];
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return [String(value)];
  if (Array.isArray(value)) return value.flatMap(leaves);
  if (typeof value === 'object') return Object.values(value).flatMap(leaves);
  return [];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Replaces known secret values with `***` in any text about to leave the process. Longest first, so that a
 * secret containing another is masked whole. Values also appear JSON-escaped in JSON output; both forms are masked.
 */
export class Redactor {
  private readonly secrets: string[] = [];

  constructor(secrets: Iterable<string> = []) {
    this.add(secrets);
  }

  add(secrets: Iterable<string>): void {
    for (const secret of secrets) {
      for (const form of [secret, JSON.stringify(secret).slice(1, -1)]) {
        if (form.length >= MIN_REDACTED_LENGTH && !this.secrets.includes(form)) this.secrets.push(form);
      }
    }
    this.secrets.sort((a, b) => b.length - a.length);
  }

  get size(): number {
    return this.secrets.length;
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) if (out.includes(secret)) out = out.split(secret).join('***');
    return out;
  }
}
