import { z } from 'zod';
import type { ConfigIssue } from './errors.js';

/**
 * Option schemas. Every connector declares its options once, as a zod object whose fields carry
 * `.meta({ description, secret?, example? })`; validation, the TypeScript types, `tideway connectors`
 * and each connector's README table all derive from that one declaration.
 */
export { z };

export interface OptionMeta {
  description?: string;
  /** Never shown in logs, errors, `check` output or `--json` reports. */
  secret?: boolean;
  example?: unknown;
}

export type OptionsSchema = z.ZodObject;

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Parses `500ms`, `10s`, `5m`, `1h` (or a bare number of milliseconds) into milliseconds. */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const match = DURATION.exec(value.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
}

/** A duration option: accepts `500ms`, `10s`, `5m`, `1h` or milliseconds; yields milliseconds. */
export function duration() {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a duration such as 500ms, 10s, 5m or 1h, got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return ms;
  });
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?$/i;
const UNIT_BYTES: Record<string, number> = { b: 1, kb: 1000, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };

/** Parses `64MiB`, `100kb`, `1048576` into bytes. */
export function parseByteSize(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
  const match = SIZE.exec(value.trim());
  if (!match) return undefined;
  return Math.floor(Number(match[1]) * (UNIT_BYTES[(match[2] ?? 'b').toLowerCase()] ?? 1));
}

/** A byte-size option: accepts `64MiB`, `100kb` or a number of bytes; yields bytes. */
export function byteSize() {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    const bytes = parseByteSize(value);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a size such as 512KiB, 64MiB or a number of bytes, got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return bytes;
  });
}

export interface OptionDoc {
  name: string;
  type: string;
  required: boolean;
  secret: boolean;
  default?: unknown;
  description: string;
}

/** Describes every option of a schema, in declaration order, for `tideway connectors` and the READMEs. */
export function describeOptions(schema: OptionsSchema): OptionDoc[] {
  return Object.entries(schema.shape).map(([name, field]) => {
    const f = field as z.ZodType;
    const meta = (f.meta() ?? {}) as OptionMeta;
    const doc: OptionDoc = {
      name,
      type: typeName(f),
      required: !f.safeParse(undefined).success,
      secret: isSecret(f),
      description: meta.description ?? '',
    };
    const def = defaultOf(f);
    if (def !== undefined) doc.default = def;
    return doc;
  });
}

function defaultOf(schema: z.ZodType): unknown {
  let current: z.ZodType | undefined = schema;
  for (let i = 0; current && i < 6; i++) {
    const def = current.def as { type: string; defaultValue?: unknown; innerType?: z.ZodType; in?: z.ZodType };
    if (def.type === 'default' || def.type === 'prefault') return def.defaultValue;
    current = def.innerType ?? def.in;
  }
  return undefined;
}

function typeName(schema: z.ZodType): string {
  const meta = (schema.meta() ?? {}) as { typeName?: string };
  if (meta.typeName) return meta.typeName;
  const def = schema.def as {
    type: string;
    innerType?: z.ZodType;
    in?: z.ZodType;
    out?: z.ZodType;
    element?: z.ZodType;
    entries?: Record<string, string>;
    options?: z.ZodType[];
    values?: unknown[];
  };
  switch (def.type) {
    case 'default':
    case 'prefault':
    case 'optional':
    case 'nullable':
    case 'readonly':
      return def.innerType ? typeName(def.innerType) : 'unknown';
    case 'pipe':
      return def.in ? typeName(def.in) : 'unknown';
    case 'enum':
      return Object.values(def.entries ?? {}).map((v) => JSON.stringify(v)).join(' | ');
    case 'literal':
      return (def.values ?? []).map((v) => JSON.stringify(v)).join(' | ');
    case 'array':
      return `${def.element ? typeName(def.element) : 'unknown'}[]`;
    case 'union':
      return [...new Set((def.options ?? []).map(typeName))].join(' | ');
    case 'object':
      return 'object';
    case 'record':
      return 'map';
    default:
      return def.type;
  }
}

function isSecret(schema: z.ZodType): boolean {
  let current: z.ZodType | undefined = schema;
  for (let i = 0; current && i < 6; i++) {
    if (((current.meta() ?? {}) as OptionMeta).secret) return true;
    const def = current.def as { innerType?: z.ZodType; in?: z.ZodType };
    current = def.innerType ?? def.in;
  }
  return false;
}

/** Names of the secret options of a schema. */
export function secretKeys(schema: OptionsSchema): Set<string> {
  return new Set(describeOptions(schema).filter((o) => o.secret).map((o) => o.name));
}

/** A copy of `values` with every secret option replaced by `***`. */
export function maskSecrets<T extends Record<string, unknown>>(schema: OptionsSchema, values: T): T {
  const secrets = secretKeys(schema);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) out[key] = secrets.has(key) && value !== undefined ? '***' : value;
  return out as T;
}

/**
 * Validates raw options against a schema. Returns the parsed value, or every problem as a ConfigIssue whose
 * path is prefixed with `at` (e.g. `sink[0]`). Unknown keys get a did-you-mean.
 */
export function parseOptions<S extends OptionsSchema>(
  schema: S,
  raw: Record<string, unknown>,
  at: string,
): { ok: true; value: z.output<S> } | { ok: false; issues: ConfigIssue[] } {
  const result = schema.strict().safeParse(raw);
  if (result.success) return { ok: true, value: result.data as z.output<S> };
  const known = Object.keys(schema.shape);
  const issues: ConfigIssue[] = [];
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const hint = didYouMean(key, known);
        issues.push({
          path: joinPath(at, [...issue.path, key]),
          message: `unknown option "${key}"${hint ? `; did you mean "${hint}"?` : `; known options: ${known.join(', ')}`}`,
        });
      }
      continue;
    }
    const key = issue.path[0];
    const missing = issue.code === 'invalid_type' && typeof key === 'string' && raw[key] === undefined;
    issues.push({
      path: joinPath(at, issue.path),
      message: missing ? `required option "${String(key)}" is missing` : friendlyMessage(issue),
    });
  }
  return { ok: false, issues };
}

function friendlyMessage(issue: z.core.$ZodIssue): string {
  return issue.message.replace(/^Invalid input: /, '');
}

export function joinPath(at: string, path: readonly PropertyKey[]): string {
  let out = at;
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${String(part)}` : String(part);
  return out;
}

/** The closest candidate by edit distance, if it is close enough to be a likely typo. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
