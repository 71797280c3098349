import { createRequire } from 'node:module';
import type sqlParserModule from 'node-sql-parser/build/snowflake.js';
import { didYouMean } from '../../src/api/options.js';
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

/** One `LATERAL VIEW [OUTER] EXPLODE(<array>) [table] AS <column>` clause, in the order written. */
export interface LateralView {
  readonly outer: boolean;
  /** The array expression inside EXPLODE(...), with positions in the whole query. */
  readonly arg: Expr;
  /** The column the elements go to. */
  readonly alias: string;
  /** Position of EXPLODE. */
  readonly at: QueryPosition;
  readonly aliasAt: QueryPosition;
}

export interface SelectQuery {
  readonly items: SelectItem[];
  readonly from: { name: string; at: QueryPosition };
  readonly where: Expr | undefined;
  readonly lateralViews: LateralView[];
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

/** Parses one `SELECT ... FROM <stream> [LATERAL VIEW ...] [WHERE ...]`; every problem is a SQL_* error at its position. */
export function parseQuery(query: string): SelectQuery {
  // node-sql-parser has no LATERAL VIEW: the clauses are cut out of the text first (blanked, so every other
  // position stays where it was) and their EXPLODE arguments parsed on their own at their own positions.
  const { text, clauses } = cutLateralViews(query);
  const { select, items, where, context } = parseSelect(text);
  const at = select.loc?.start ?? START;
  const from = (select.from as RawNode[] | null) ?? [];
  if (from.length !== 1) throw queryError(from.length === 0 ? 'SQL_NO_FROM' : 'SQL_UNSUPPORTED', from.length === 0 ? 'the query has no FROM; name the input stream: SELECT ... FROM <stream>' : 'joins are not supported: FROM names one stream', from[1]?.loc?.start ?? at);
  const table = from[0]!;
  if (typeof table.table !== 'string' || table.expr) throw queryError('SQL_UNSUPPORTED', 'FROM must name the input stream, not a subquery', table.loc?.start ?? at);
  const fromAt = table.loc?.start ?? at;
  const lateralViews = clauses.map((clause) => {
    if (clause.start < fromAt.offset) throw queryError('SQL_SYNTAX', 'LATERAL VIEW goes after FROM <stream> (before or after the WHERE)', positionAt(query, clause.start));
    return lateralView(query, clause);
  });
  return { items: items(context), from: { name: table.table, at: fromAt }, where: where(context), lateralViews };
}

/** The raw SELECT of `text` (after the clause checks) and converters for its items and WHERE. */
function parseSelect(query: string): { select: RawNode; items: (context: Context) => SelectItem[]; where: (context: Context) => Expr | undefined; context: Context } {
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
    throw queryError('SQL_SYNTAX', `syntax error ${found ? `at "${found}"` : 'at the end of the query'}; write SELECT <expressions> FROM <stream> [LATERAL VIEW ...] [WHERE <condition>]`, loc);
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
  return {
    select,
    items: (context) => (select.columns as RawNode[]).map((c) => convertItem(c, at, context)),
    where: (context) => (select.where ? convert(select.where as RawNode, at, context) : undefined),
    context: { targets },
  };
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

/** Where a LATERAL VIEW clause is in the query text (offsets), before its argument is parsed. */
interface LateralClause {
  readonly start: number;
  readonly end: number;
  readonly outer: boolean;
  readonly generator: string;
  readonly generatorAt: number;
  readonly argStart: number;
  readonly argEnd: number;
  readonly alias: string;
  readonly aliasAt: number;
}

/** The text with every character but line breaks turned into a space: same offsets, lines and columns. */
function blank(text: string): string {
  return text.replace(/[^\r\n]/g, ' ');
}

/**
 * Finds the `LATERAL VIEW [OUTER] <generator>(...) [table] AS <column>` clauses outside strings, quoted names,
 * comments and parentheses, and returns the query with each clause blanked out.
 */
function cutLateralViews(query: string): { text: string; clauses: LateralClause[] } {
  const clauses: LateralClause[] = [];
  const n = query.length;
  /** Offset after the string, quoted name or comment starting at `i`, or `i` when there is none. */
  const skipQuoted = (i: number): number => {
    const c = query[i];
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < n) {
        if (c === "'" && query[j] === '\\') j += 2;
        else if (query[j] === c) {
          if (query[j + 1] === c) j += 2;
          else return j + 1;
        } else j++;
      }
      return n;
    }
    if (c === '-' && query[i + 1] === '-') {
      const end = query.indexOf('\n', i);
      return end < 0 ? n : end + 1;
    }
    if (c === '/' && query[i + 1] === '*') {
      const end = query.indexOf('*/', i + 2);
      return end < 0 ? n : end + 2;
    }
    return i;
  };
  const skipSpace = (i: number): number => {
    for (;;) {
      while (i < n && /\s/.test(query[i]!)) i++;
      const c = query[i];
      if ((c === '-' && query[i + 1] === '-') || (c === '/' && query[i + 1] === '*')) i = skipQuoted(i);
      else return i;
    }
  };
  const wordAt = (i: number): string => /^[A-Za-z_][A-Za-z0-9_$]*/.exec(query.slice(i, i + 200))?.[0] ?? '';
  /** An identifier, plain or quoted, at `i`: its name and end. */
  const nameAt = (i: number): { name: string; end: number } | undefined => {
    const c = query[i];
    if (c === '"' || c === '`') {
      const end = skipQuoted(i);
      return { name: query.slice(i + 1, end - 1).split(c + c).join(c), end };
    }
    const word = wordAt(i);
    return word ? { name: word, end: i + word.length } : undefined;
  };
  const fail = (code: string, message: string, offset: number): never => {
    throw queryError(code, message, positionAt(query, offset));
  };
  let depth = 0;
  for (let i = 0; i < n; ) {
    const skipped = skipQuoted(i);
    if (skipped !== i) {
      i = skipped;
      continue;
    }
    const c = query[i]!;
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (!/[A-Za-z_]/.test(c) || (i > 0 && /[A-Za-z0-9_$]/.test(query[i - 1]!))) {
      i++;
      continue;
    }
    const word = wordAt(i);
    if (depth !== 0 || word.toUpperCase() !== 'LATERAL') {
      i += word.length;
      continue;
    }
    const start = i;
    let p = skipSpace(i + word.length);
    if (wordAt(p).toUpperCase() !== 'VIEW') {
      // Not a LATERAL VIEW clause: left to the parser.
      i += word.length;
      continue;
    }
    p = skipSpace(p + 4);
    let outer = false;
    if (wordAt(p).toUpperCase() === 'OUTER') {
      outer = true;
      p = skipSpace(p + 5);
    }
    const generator = wordAt(p);
    if (!generator) fail('SQL_SYNTAX', 'LATERAL VIEW needs a generator function; write LATERAL VIEW [OUTER] EXPLODE(<array>) AS <column>', p);
    const generatorAt = p;
    p = skipSpace(p + generator.length);
    if (query[p] !== '(') fail('SQL_SYNTAX', `${generator.toUpperCase()} needs its argument in parentheses: ${generator.toUpperCase()}(<array>)`, p);
    const argStart = p + 1;
    let level = 1;
    let q = argStart;
    while (q < n && level > 0) {
      const after = skipQuoted(q);
      if (after !== q) {
        q = after;
        continue;
      }
      if (query[q] === '(') level++;
      else if (query[q] === ')') level--;
      q++;
    }
    if (level > 0) fail('SQL_SYNTAX', `${generator.toUpperCase()}( is not closed`, p);
    const argEnd = q - 1;
    p = skipSpace(q);
    let alias = nameAt(p);
    if (alias && alias.name.toUpperCase() !== 'AS' && query[p] !== '"' && query[p] !== '`') {
      // An optional table alias before AS, as Hive and Spark write it; columns are not qualified with it.
      p = skipSpace(alias.end);
      alias = nameAt(p);
    }
    if (!alias || alias.name.toUpperCase() !== 'AS' || query[p] === '"' || query[p] === '`') fail('SQL_SYNTAX', `LATERAL VIEW ${generator.toUpperCase()}(...) needs AS <column>: the name of the column its values go to`, p);
    p = skipSpace(alias!.end);
    const column = nameAt(p);
    if (!column) fail('SQL_SYNTAX', 'AS needs the name of the column the values go to', p);
    const end = column!.end;
    if (query[skipSpace(end)] === ',') fail('SQL_UNSUPPORTED', `EXPLODE of an array gives one column; name one after AS`, skipSpace(end));
    clauses.push({ start, end, outer, generator, generatorAt, argStart, argEnd, alias: column!.name, aliasAt: p });
    i = end;
  }
  let text = query;
  for (const clause of clauses) text = text.slice(0, clause.start) + blank(text.slice(clause.start, clause.end)) + text.slice(clause.end);
  return { text, clauses };
}

/**
 * Converts one clause: the generator must be EXPLODE, and its argument is parsed as `SELECT <argument> FROM t`
 * laid out so that the argument keeps its offset, line and column in the whole query.
 */
function lateralView(query: string, clause: LateralClause): LateralView {
  const at = positionAt(query, clause.generatorAt);
  const name = clause.generator.toLowerCase();
  if (name !== 'explode') {
    const hint = didYouMean(name, ['explode']);
    throw queryError('SQL_UNKNOWN_FUNCTION', `unknown function ${name}() in LATERAL VIEW${hint ? '; did you mean explode()?' : ''} (LATERAL VIEW takes EXPLODE)`, at);
  }
  const argText = query.slice(clause.argStart, clause.argEnd);
  if (argText.trim() === '') throw queryError('SQL_WRONG_ARGUMENTS', 'EXPLODE takes 1 argument, got 0', at);
  const text = `${blank(query.slice(0, clause.start))}SELECT${blank(query.slice(clause.start + 6, clause.argStart))}${argText}${blank(query.slice(clause.argEnd))}\nFROM t`;
  const { items, context } = parseSelect(text);
  const converted = items(context);
  if (converted.length !== 1) throw queryError('SQL_WRONG_ARGUMENTS', `EXPLODE takes 1 argument, got ${converted.length}`, at);
  const item = converted[0]!;
  if (item.kind === 'star' || item.alias !== undefined) throw queryError('SQL_SYNTAX', 'EXPLODE takes one array expression: a list column, SPLIT(text, separator) or ARRAY(...)', item.at);
  return { outer: clause.outer, arg: item.expr, alias: clause.alias, at, aliasAt: positionAt(query, clause.aliasAt) };
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
