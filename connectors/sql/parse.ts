import { createRequire } from 'node:module';
import type sqlParserModule from 'node-sql-parser/build/snowflake.js';
import { type QueryPosition, queryError, START } from './errors.js';

/** The cast targets the evaluator knows, as written after AS (normalised to upper case). */
export interface CastTarget {
  readonly name: string;
  readonly scale?: number;
}

/** Tideway's own expression tree: what the checker and the compiler work on, each node with its position. */
export type Expr =
  | { kind: 'column'; name: string; at: QueryPosition }
  | { kind: 'literal'; value: number | bigint | string | boolean | null; literalType: 'number' | 'string' | 'bool' | 'null' | 'date' | 'timestamp' | 'time'; at: QueryPosition }
  | { kind: 'unary'; op: '-' | '+' | 'NOT'; arg: Expr; at: QueryPosition }
  | { kind: 'binary'; op: string; left: Expr; right: Expr; at: QueryPosition }
  | { kind: 'in'; arg: Expr; list: Expr[]; negated: boolean; at: QueryPosition }
  | { kind: 'between'; arg: Expr; low: Expr; high: Expr; negated: boolean; at: QueryPosition }
  | { kind: 'isnull'; arg: Expr; negated: boolean; at: QueryPosition }
  | { kind: 'case'; operand: Expr | undefined; whens: { when: Expr; then: Expr }[]; otherwise: Expr | undefined; at: QueryPosition }
  | { kind: 'cast'; arg: Expr; target: CastTarget; orNull: boolean; at: QueryPosition }
  | { kind: 'call'; name: string; args: Expr[]; at: QueryPosition };

export type SelectItem = { kind: 'star'; at: QueryPosition } | { kind: 'expr'; expr: Expr; alias: string | undefined; at: QueryPosition };

export interface SelectQuery {
  readonly items: SelectItem[];
  readonly from: { name: string; at: QueryPosition };
  readonly where: Expr | undefined;
}

// node-sql-parser's AST is loosely typed; this is the part of its shape the converter reads.
interface RawLoc {
  start: QueryPosition;
}
interface RawNode {
  type?: string;
  loc?: RawLoc;
  [key: string]: unknown;
}

const require = createRequire(import.meta.url);
let loadedParser: InstanceType<typeof sqlParserModule.Parser> | undefined;

/**
 * The parser, loaded on the first query: its grammar takes about 0.4 s to load, which a process or pipeline
 * thread without a sql transform does not pay.
 */
function parser(): InstanceType<typeof sqlParserModule.Parser> {
  loadedParser ??= new (require('node-sql-parser/build/snowflake.js') as typeof sqlParserModule).Parser();
  return loadedParser;
}

/** Type names the parser's grammar accepts after CAST(... AS; others are swapped for CHAR before parsing. */
const GRAMMAR_TYPES = new Set(['STRING', 'VARCHAR', 'TEXT', 'JSON', 'TINYINT', 'SMALLINT', 'INT', 'INTEGER', 'BIGINT', 'FLOAT', 'REAL', 'DOUBLE', 'DECIMAL', 'NUMERIC', 'NUMBER', 'BOOLEAN', 'BOOL', 'DATE', 'TIMESTAMP', 'DATETIME', 'TIMESTAMP_NTZ', 'TIMESTAMP_TZ', 'TIME', 'BINARY', 'VARBINARY']);

/** 0-based offset to 1-based line and column. */
function positionAt(text: string, offset: number): QueryPosition {
  const before = text.slice(0, offset).split('\n');
  return { offset, line: before.length, column: before[before.length - 1]!.length + 1 };
}

/**
 * The grammar knows a fixed list of type names, so CAST(x AS BYTES) or a misspelt type would be a bare syntax
 * error. Every `AS <name>(` or `AS <name>)` whose name the grammar lacks is replaced by `CHAR` padded to the
 * same length (offsets stay valid); the names, with genuine CHARs, are queued in source order for the
 * converter, which meets the casts in that order.
 */
function protectCastTargets(query: string): { text: string; targets: { name: string; at: QueryPosition }[] } {
  const targets: { name: string; at: QueryPosition }[] = [];
  const text = query.replace(/\bAS(\s+)([A-Za-z_][A-Za-z0-9_]*)(?=\s*[()])/gi, (match, space: string, name: string, offset: number) => {
    const upper = name.toUpperCase();
    if (GRAMMAR_TYPES.has(upper)) return match;
    const at = positionAt(query, offset + 2 + space.length);
    if (name.length < 4) throw queryError('SQL_UNKNOWN_TYPE', `unknown type ${upper} in CAST (types: STRING, VARCHAR, INT, BIGINT, DOUBLE, DECIMAL(p,s), BOOLEAN, DATE, TIMESTAMP, TIME, BYTES, ...)`, at);
    targets.push({ name: upper, at });
    return `AS${space}${'CHAR'.padEnd(name.length)}`;
  });
  return { text, targets };
}

/** Parses one `SELECT ... FROM <stream> [WHERE ...]`; every problem is a SQL_* error at its position. */
export function parseQuery(query: string): SelectQuery {
  let raw: unknown;
  const { text, targets } = protectCastTargets(query);
  // The parser trims the text first, so its positions count from the first non-blank character.
  const lead = text.length - text.trimStart().length;
  try {
    raw = parser().astify(text, { database: 'snowflake', parseOptions: { includeLocations: true } });
    if (lead > 0) shiftLocations(raw, query, lead);
  } catch (error) {
    const location = (error as { location?: RawLoc }).location?.start;
    const loc = location ? (lead > 0 ? positionAt(query, location.offset + lead) : location) : START;
    const found = (error as { found?: string | null }).found;
    throw queryError('SQL_SYNTAX', `syntax error ${found ? `at "${found}"` : 'at the end of the query'}; write SELECT <expressions> FROM <stream> [WHERE <condition>]`, loc);
  }
  const statements = Array.isArray(raw) ? (raw as RawNode[]) : [raw as RawNode];
  if (statements.length !== 1) throw queryError('SQL_UNSUPPORTED', `the query holds ${statements.length} statements; give exactly one SELECT`, START);
  const select = statements[0]!;
  const at = select.loc?.start ?? START;
  if (select.type !== 'select') throw queryError('SQL_UNSUPPORTED', `only SELECT is supported, not ${String(select.type).toUpperCase()}`, at);
  for (const clause of ['groupby', 'having', 'orderby', 'window', 'with', 'qualify'] as const) {
    if (select[clause]) throw queryError('SQL_UNSUPPORTED', `${clause.replace('by', ' BY').toUpperCase()} is not supported: the sql transform works on one row at a time (projection and filtering)`, at);
  }
  const limit = select.limit as { value?: unknown[] } | null | undefined;
  if (limit?.value?.length) throw queryError('SQL_UNSUPPORTED', 'LIMIT is not supported: the sql transform works on one row at a time', at);
  const distinct = select.distinct as { type?: string | null } | null | undefined;
  if (distinct?.type) throw queryError('SQL_UNSUPPORTED', 'DISTINCT is not supported: the sql transform works on one row at a time', at);
  const from = (select.from as RawNode[] | null) ?? [];
  if (from.length !== 1) throw queryError(from.length === 0 ? 'SQL_NO_FROM' : 'SQL_UNSUPPORTED', from.length === 0 ? 'the query has no FROM; name the input stream: SELECT ... FROM <stream>' : 'joins are not supported: FROM names one stream', from[1]?.loc?.start ?? at);
  const table = from[0]!;
  if (typeof table.table !== 'string' || table.expr) throw queryError('SQL_UNSUPPORTED', 'FROM must name the input stream, not a subquery', table.loc?.start ?? at);
  const context: Context = { targets };
  const items = (select.columns as RawNode[]).map((c) => convertItem(c, at, context));
  return { items, from: { name: table.table, at: table.loc?.start ?? at }, where: select.where ? convert(select.where as RawNode, at, context) : undefined };
}

/** Moves every node position of a raw tree parsed from `query` with its first `lead` blank characters trimmed. */
function shiftLocations(node: unknown, query: string, lead: number, seen = new Set<object>()): void {
  if (node === null || typeof node !== 'object' || seen.has(node)) return;
  seen.add(node);
  if (Array.isArray(node)) {
    for (const item of node) shiftLocations(item, query, lead, seen);
    return;
  }
  const loc = (node as RawNode).loc;
  if (loc?.start && typeof loc.start.offset === 'number' && !seen.has(loc)) {
    seen.add(loc);
    loc.start = positionAt(query, loc.start.offset + lead);
  }
  for (const [key, value] of Object.entries(node)) if (key !== 'loc') shiftLocations(value, query, lead, seen);
}

interface Context {
  /** Cast target names swapped for CHAR before parsing, in source order. */
  readonly targets: { name: string; at: QueryPosition }[];
}

function convertItem(raw: RawNode, parent: QueryPosition, context: Context): SelectItem {
  const at = raw.loc?.start ?? parent;
  const expr = raw.expr as RawNode;
  if (expr.type === 'column_ref' && columnName(expr) === '*') return { kind: 'star', at };
  const alias = typeof raw.as === 'string' ? raw.as : undefined;
  return { kind: 'expr', expr: convert(expr, at, context), alias, at };
}

function columnName(raw: RawNode): string {
  const column = raw.column as string | { expr?: { value?: unknown } };
  return typeof column === 'string' ? column : String(column?.expr?.value ?? '');
}

function convert(raw: RawNode, parent: QueryPosition, context: Context): Expr {
  const at = raw.loc?.start ?? parent;
  switch (raw.type) {
    case 'column_ref': {
      if (raw.table && (raw.notations as string[] | undefined)?.[0] !== '.') throw queryError('SQL_UNSUPPORTED', `"${String(raw.table)}${(raw.notations as string[])[0]}${columnName(raw)}" is not supported; write a column name`, at);
      return { kind: 'column', name: columnName(raw), at };
    }
    case 'double_quote_string':
    case 'backticks_quote_string':
      // Standard SQL: a double-quoted name is an identifier, not a string.
      return { kind: 'column', name: String(raw.value), at };
    case 'number': {
      const value = raw.value;
      if (typeof value === 'string') return { kind: 'literal', value: Number(value), literalType: 'number', at };
      if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) return { kind: 'literal', value: BigInt(String(value)), literalType: 'number', at };
      return { kind: 'literal', value: value as number, literalType: 'number', at };
    }
    case 'bigint': {
      // Integers past 2^53 keep their digits as text.
      const digits = String(raw.value);
      return { kind: 'literal', value: /^-?\d+$/.test(digits) ? BigInt(digits) : Number(digits), literalType: 'number', at };
    }
    case 'single_quote_string':
    case 'string':
    case 'natural_string':
      // The parser keeps the doubled quote of 'it''s' as written.
      return { kind: 'literal', value: String(raw.value).replace(/''/g, "'"), literalType: 'string', at };
    case 'bool':
      return { kind: 'literal', value: Boolean(raw.value), literalType: 'bool', at };
    case 'null':
      return { kind: 'literal', value: null, literalType: 'null', at };
    case 'date':
    case 'timestamp':
    case 'time':
      return { kind: 'literal', value: String(raw.value), literalType: raw.type, at };
    case 'unary_expr': {
      const op = String(raw.operator).toUpperCase();
      if (op !== '-' && op !== '+' && op !== 'NOT' && op !== '!') throw queryError('SQL_UNSUPPORTED', `operator ${op} is not supported`, at);
      return { kind: 'unary', op: op === '!' ? 'NOT' : op, arg: convert(raw.expr as RawNode, at, context), at };
    }
    case 'binary_expr':
      return convertBinary(raw, at, context);
    case 'case': {
      const args = raw.args as RawNode[];
      const whens = args.filter((a) => a.type === 'when').map((a) => ({ when: convert(a.cond as RawNode, at, context), then: convert(a.result as RawNode, at, context) }));
      const otherwise = args.find((a) => a.type === 'else');
      return { kind: 'case', operand: raw.expr ? convert(raw.expr as RawNode, at, context) : undefined, whens, otherwise: otherwise ? convert(otherwise.result as RawNode, at, context) : undefined, at };
    }
    case 'cast': {
      const target = (raw.target as { dataType: string; scale?: number; length?: number }[])[0]!;
      const keyword = String(raw.keyword).toLowerCase();
      const arg = convert(raw.expr as RawNode, at, context);
      const swapped = target.dataType.toUpperCase() === 'CHAR' ? context.targets.shift() : undefined;
      const name = swapped?.name ?? target.dataType.toUpperCase();
      const scale = target.scale ?? (name === 'DECIMAL' || name === 'NUMERIC' ? 0 : undefined);
      return { kind: 'cast', arg, target: { name, ...(scale === undefined ? {} : { scale }) }, orNull: keyword === 'try_cast', at: swapped?.at ?? at };
    }
    case 'extract': {
      const args = raw.args as { field: string; source: RawNode };
      return { kind: 'call', name: 'extract', args: [{ kind: 'literal', value: String(args.field).toUpperCase(), literalType: 'string', at }, convert(args.source, at, context)], at };
    }
    case 'function':
      return convertFunction(raw, at, context);
    case 'expr_list': {
      const list = raw.value as RawNode[];
      if (list.length === 1) return convert(list[0]!, at, context);
      throw queryError('SQL_UNSUPPORTED', 'a list of values is only allowed after IN', at);
    }
    default:
      throw queryError('SQL_UNSUPPORTED', `${String(raw.type ?? 'this construct').replace(/_/g, ' ')} is not supported in the sql transform`, at);
  }
}

function convertBinary(raw: RawNode, at: QueryPosition, context: Context): Expr {
  const op = String(raw.operator).toUpperCase();
  const left = convert(raw.left as RawNode, at, context);
  const right = raw.right as RawNode;
  switch (op) {
    case 'IN':
    case 'NOT IN': {
      const list = right.type === 'expr_list' ? (right.value as RawNode[]) : [right];
      return { kind: 'in', arg: left, list: list.map((v) => convert(v, at, context)), negated: op === 'NOT IN', at };
    }
    case 'BETWEEN':
    case 'NOT BETWEEN': {
      const [low, high] = right.value as RawNode[];
      return { kind: 'between', arg: left, low: convert(low!, at, context), high: convert(high!, at, context), negated: op === 'NOT BETWEEN', at };
    }
    case 'IS':
    case 'IS NOT': {
      const negated = op === 'IS NOT';
      if (right.type === 'null') return { kind: 'isnull', arg: left, negated, at };
      if (right.type === 'bool') {
        // x IS TRUE is never NULL: x = TRUE where x is not NULL.
        const test: Expr = { kind: 'call', name: '__is_bool', args: [left, convert(right, at, context)], at };
        return negated ? { kind: 'unary', op: 'NOT', arg: test, at } : test;
      }
      throw queryError('SQL_UNSUPPORTED', `IS${negated ? ' NOT' : ''} takes NULL, TRUE or FALSE`, at);
    }
    case '!=':
      return { kind: 'binary', op: '<>', left, right: convert(right, at, context), at };
    case '==':
      return { kind: 'binary', op: '=', left, right: convert(right, at, context), at };
    case 'REGEXP':
    case 'RLIKE':
      return { kind: 'call', name: 'regexp_like', args: [left, convert(right, at, context)], at };
    case 'NOT REGEXP':
    case 'NOT RLIKE':
      return { kind: 'unary', op: 'NOT', arg: { kind: 'call', name: 'regexp_like', args: [left, convert(right, at, context)], at }, at };
    case '+':
    case '-':
    case '*':
    case '/':
    case '%':
    case '||':
    case '=':
    case '<>':
    case '<':
    case '<=':
    case '>':
    case '>=':
    case 'AND':
    case 'OR':
    case 'LIKE':
    case 'NOT LIKE':
    case 'ILIKE':
    case 'NOT ILIKE':
      return { kind: 'binary', op, left, right: convert(right, at, context), at };
    default:
      throw queryError('SQL_UNSUPPORTED', `operator ${op} is not supported`, at);
  }
}

/** Function calls, with the keyword forms TRIM(BOTH x FROM y) and POSITION(a IN b) rewritten to plain calls. */
function convertFunction(raw: RawNode, at: QueryPosition, context: Context): Expr {
  const parts = ((raw.name as { name: { value: string }[] }).name ?? []).map((p) => p.value);
  const name = parts.join('.').toLowerCase();
  const rawArgs = ((raw.args as { value?: RawNode[] } | null)?.value ?? []) as RawNode[];
  const keywords = rawArgs.filter((a) => a.type === 'origin').map((a) => String(a.value).toLowerCase());
  const args = rawArgs.filter((a) => a.type !== 'origin').map((a) => convert(a, at, context));
  if (name === 'trim' && keywords.includes('from')) {
    const mode = keywords.includes('leading') ? 'ltrim' : keywords.includes('trailing') ? 'rtrim' : 'trim';
    // TRIM([BOTH|LEADING|TRAILING] [chars] FROM value)
    return { kind: 'call', name: mode, args: args.length === 2 ? [args[1]!, args[0]!] : args, at };
  }
  if (name === 'position' && keywords.includes('in')) return { kind: 'call', name: 'position', args, at };
  // NOT (a AND b) reaches here as a call of "not".
  if (name === 'not' && args.length === 1) return { kind: 'unary', op: 'NOT', arg: args[0]!, at };
  if (keywords.length > 0) throw queryError('SQL_UNSUPPORTED', `${name.toUpperCase()}(${keywords.join(' ').toUpperCase()} ...) is not supported; call ${name}(...) with comma-separated arguments`, at);
  return { kind: 'call', name, args, at };
}
