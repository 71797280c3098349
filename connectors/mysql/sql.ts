import { quoteId } from './connection.js';
import type { ReadPlan } from './plan.js';
import type { ColumnKind } from './types.js';

const INTEGER_KINDS: ReadonlySet<ColumnKind> = new Set(['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'bits']);

/** A string as an SQL literal (the session has NO_BACKSLASH_ESCAPES off: it is set by connect()). */
export function quoteString(text: string): string {
  return `'${text.replace(/[\\'\0\n\r\u001a]/g, (c) => ESCAPES[c]!)}'`;
}

const ESCAPES: Record<string, string> = { '\\': '\\\\', "'": "\\'", '\0': '\\0', '\n': '\\n', '\r': '\\r', '\u001a': '\\Z' };

/**
 * A key or bound value, held in splits as text, written back as an SQL literal of its column's kind.
 * Integers are written bare (a quoted number would be compared as a double and lose precision past 2^53).
 */
export function literal(kind: ColumnKind, text: string): string {
  if (INTEGER_KINDS.has(kind)) {
    if (!/^-?\d+$/.test(text)) throw new RangeError(`"${text}" is not an integer`);
    return text;
  }
  if (kind === 'float32' || kind === 'float64') {
    if (!Number.isFinite(Number(text))) throw new RangeError(`"${text}" is not a number`);
    return String(Number(text));
  }
  if (kind === 'binary') return `X'${text}'`;
  return quoteString(text);
}

/** How a key value read from a row is kept in a split (text; bytes as hex, bits as an integer). */
export function keyText(kind: ColumnKind, value: unknown): string {
  if (Buffer.isBuffer(value)) {
    if (kind === 'binary') return value.toString('hex');
    let v = 0n;
    for (const b of value) v = (v << 8n) | BigInt(b);
    return v.toString();
  }
  return String(value);
}

/** Where a split starts and ends, and where its reader stopped. All values are text (see literal). */
export interface SplitRange {
  /** Exclusive lower bound of the partition column; null: unbounded. */
  lo: string | null;
  /** Inclusive upper bound; null: unbounded. */
  hi: string | null;
  /** The split of rows whose partition column is NULL. */
  nulls: boolean;
}

export function kindOf(plan: ReadPlan, name: string): ColumnKind {
  const column = plan.columns.find((c) => c.name === name);
  if (!column) throw new Error(`column ${name} is not in the read plan`);
  return column.kind;
}

/** The WHERE conditions of a split: the user's filter and the split's range. */
export function splitConditions(plan: ReadPlan, range: SplitRange): string[] {
  const conditions: string[] = [];
  if (plan.where) conditions.push(`(${plan.where})`);
  const p = plan.partition;
  if (p) {
    const column = quoteId(p.column);
    if (range.nulls) conditions.push(`${column} IS NULL`);
    else {
      if (range.lo !== null) conditions.push(`${column} > ${literal(p.kind, range.lo)}`);
      if (range.hi !== null) conditions.push(`${column} <= ${literal(p.kind, range.hi)}`);
      if (range.lo === null && p.nullable) conditions.push(`${column} IS NOT NULL`);
    }
  }
  return conditions;
}

/** `(k1, k2) > (v1, v2)` spelled out, which MySQL and MariaDB turn into an index range. */
export function afterCondition(plan: ReadPlan, order: readonly string[], after: readonly string[]): string {
  const terms: string[] = [];
  for (let i = 0; i < order.length; i++) {
    const parts: string[] = [];
    for (let j = 0; j < i; j++) parts.push(`${quoteId(order[j]!)} = ${literal(kindOf(plan, order[j]!), after[j]!)}`);
    parts.push(`${quoteId(order[i]!)} > ${literal(kindOf(plan, order[i]!), after[i]!)}`);
    terms.push(parts.length === 1 ? parts[0]! : `(${parts.join(' AND ')})`);
  }
  return terms.length === 1 ? terms[0]! : `(${terms.join(' OR ')})`;
}

export function selectList(plan: ReadPlan): string {
  return plan.columns.map((c) => (c.selectExpr === quoteId(c.name) ? c.selectExpr : `${c.selectExpr} AS ${quoteId(c.name)}`)).join(', ');
}

export function whereClause(conditions: readonly string[]): string {
  return conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
}

export function orderClause(order: readonly string[]): string {
  return order.length > 0 ? ` ORDER BY ${order.map(quoteId).join(', ')}` : '';
}
