import { isAscii } from 'node:buffer';
import { type Data, type DataType, makeData, type Schema, Type, Utf8 } from 'apache-arrow';
import { didYouMean } from '../../src/api/options.js';
import { CAST_TARGET_NAMES, castValue, resolveTarget, type ResolvedTarget, toText } from './cast.js';
import { parseIsoTimestamp } from './datetime.js';
import { type QueryPosition, queryError, RowFailure } from './errors.js';
import { FUNCTIONS, type FunctionSpec, type Param, regex } from './functions.js';
import type { Expr } from './parse.js';
import { allocate, isNumeric, isTemporal, MS_PER_DAY, packBits, validityOf, type Scalar, scalarAt, type SqlType, sqlTypeOf, type Values, type Vec } from './types.js';

/** Functions SQL lets a query call without parentheses. */
const NILADIC = new Set(['current_date', 'current_time', 'current_timestamp', 'localtimestamp', 'sysdate']);

/** One row's failure, before it is handed to the stage's dirty-data policy. */
export interface RowReject {
  row: number;
  code: string;
  message: string;
  column?: string;
}

/**
 * Collects row failures while a batch is evaluated. `active` is the set of rows whose value is actually used
 * at this point (inside a CASE branch, the right side of AND): a failure outside it is not an error, since
 * SQL only evaluates a branch for the rows that take it.
 */
export class RowErrors {
  active: Uint8Array | null = null;
  readonly failed: Uint8Array;
  readonly list: RowReject[] = [];
  /** Name of the output column being computed, for the error. */
  column: string | undefined;

  constructor(n: number) {
    this.failed = new Uint8Array(n);
  }

  fail(row: number, code: string, message: string): void {
    if (this.active && this.active[row] === 0) return;
    if (this.failed[row]) return;
    this.failed[row] = 1;
    this.list.push({ row, code, message, ...(this.column ? { column: this.column } : {}) });
  }
}

/** What a compiled expression runs against: the batch's columns (decoded on first use), its size and clock. */
export interface Env {
  readonly n: number;
  readonly now: number;
  readonly errors: RowErrors;
  column(index: number): Vec;
  /** The NULL mask of an input column without decoding its values (1 = value, null = no NULLs). */
  validity(index: number): Uint8Array | null;
  /** The Arrow data of an input column for the rows being computed. */
  data(index: number): Data;
}

/** A compiled expression: its type, and a function that computes it for a whole batch at once. */
export interface Node {
  readonly type: SqlType;
  readonly run: (env: Env) => Vec;
  /** Set when the value is known at compile time. */
  readonly constant?: { value: Scalar };
  /** The input column, for a bare column reference. */
  readonly column?: number;
  /**
   * A faster way to the Arrow column of this node when it is an output as it is (UPPER(name) on ASCII text
   * maps the bytes); undefined from it means "use `run`".
   */
  readonly arrow?: (env: Env) => Data | undefined;
}

const constNode = (type: SqlType, value: Scalar): Node => {
  const vec: Vec = { kind: 'const', value };
  return { type, run: () => vec, constant: { value } };
};

/** Combined validity of two operands (1 = both non-NULL), null when neither has NULLs. */
function bothValid(a: Vec, b: Vec, n: number): Uint8Array | null {
  const av = a.kind === 'col' ? a.valid : null;
  const bv = b.kind === 'col' ? b.valid : null;
  if (!av) return bv;
  if (!bv) return av;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = av[i]! & bv[i]!;
  return out;
}

/** True for an unsigned 64-bit integer column, which expressions compute as BIGINT (signed). */
function isUint64(type: DataType): boolean {
  const int = type as unknown as { typeId: Type; bitWidth: number; isSigned: boolean };
  return int.typeId === Type.Int && int.bitWidth === 64 && !int.isSigned;
}

/**
 * A UInt64 column read as BIGINT: its values from 2^63 on do not fit and would read as negative numbers, so
 * the rows holding one are rejected (SQL_NUMERIC_OVERFLOW) instead of computed with a wrong value.
 */
function uint64InRange(env: Env, index: number, name: string): Vec {
  const vec = env.column(index);
  if (vec.kind !== 'col') return vec;
  const values = vec.values as BigInt64Array;
  // The sign is the high 32-bit half's sign: no BigInt per value.
  const words = new Int32Array(values.buffer, values.byteOffset, values.length * 2);
  for (let i = 0; i < values.length; i++) {
    if (words[i * 2 + 1]! < 0 && (!vec.valid || vec.valid[i])) {
      env.errors.fail(i, 'SQL_NUMERIC_OVERFLOW', `column "${name}" holds ${BigInt.asUintN(64, values[i]!)}, above BIGINT's largest value 9223372036854775807`);
    }
  }
  return vec;
}

type Fail = (row: number, code: string, message: string) => void;
type Kernel = (a: unknown, b: unknown, out: Values, n: number, valid: Uint8Array | null, fail: Fail) => void;

const kernels = new Map<string, Kernel>();

/**
 * A loop specialised for one operator, operand layout (column or constant) and check, generated once and
 * cached: `for (i) out[i] = a[i] OP b[i]` over typed arrays, which V8 compiles to tight machine code.
 */
function kernel(expr: string, aConst: boolean, bConst: boolean, check: string): Kernel {
  const key = `${expr}|${aConst}|${bConst}|${check}`;
  let k = kernels.get(key);
  if (!k) {
    const body = `for (let i = 0; i < n; i++) { const x = ${aConst ? 'a' : 'a[i]'}; const y = ${bConst ? 'b' : 'b[i]'}; let r = ${expr}; ${check} out[i] = r; }`;
    k = new Function('a', 'b', 'out', 'n', 'valid', 'fail', body) as Kernel;
    kernels.set(key, k);
  }
  return k;
}

const OK = (i: string) => `(valid === null || valid[${i}] === 1)`;
const ZERO_CHECK = (zero: string) => `if (y === ${zero} && ${OK('i')}) { fail(i, 'SQL_DIVISION_BY_ZERO', 'division by zero'); r = ${zero === '0n' ? '0n' : '0'}; }`;
const INT32_CHECK = `if ((r > 2147483647 || r < -2147483648) && ${OK('i')}) { fail(i, 'SQL_NUMERIC_OVERFLOW', 'integer overflow: ' + x + ' and ' + y + ' give a value outside INT'); r = 0; }`;
const INT64_CHECK = `if (BigInt.asIntN(64, r) !== r && ${OK('i')}) { fail(i, 'SQL_NUMERIC_OVERFLOW', 'integer overflow: the result is outside BIGINT'); r = 0n; }`;

function arithmeticKernel(op: string, type: SqlType): { expr: string; check: string } {
  if (type === 'float64') {
    if (op === '/' || op === '%') return { expr: `x ${op} y`, check: ZERO_CHECK('0') };
    return { expr: `x ${op} y`, check: '' };
  }
  if (type === 'int64') {
    if (op === '/' || op === '%') return { expr: `y === 0n ? 0n : x ${op} y`, check: ZERO_CHECK('0n') + INT64_CHECK };
    return { expr: `x ${op} y`, check: INT64_CHECK };
  }
  if (op === '/') return { expr: 'Math.trunc(x / y)', check: ZERO_CHECK('0') + INT32_CHECK };
  if (op === '%') return { expr: 'y === 0 ? 0 : x % y', check: ZERO_CHECK('0') };
  if (op === '*') return { expr: 'x * y', check: INT32_CHECK };
  return { expr: `x ${op} y`, check: INT32_CHECK };
}

/** Scalar conversion used to coerce a constant to the type it is compared or combined with. */
function convertConstant(value: Scalar, from: SqlType, to: SqlType): Scalar {
  if (value === null || from === to) return value;
  if (to === 'float64') return Number(value);
  if (to === 'int64') return BigInt(value as number);
  if (to === 'timestamp' && from === 'date') return (value as number) * MS_PER_DAY;
  return value;
}

/** Widens a node's values to `to` (int32 -> int64 -> float64, date -> timestamp). */
function widen(node: Node, to: SqlType): Node {
  const from = node.type;
  if (from === to || from === 'null') return from === 'null' ? constNode(to, null) : node;
  if (node.constant) return constNode(to, convertConstant(node.constant.value, from, to));
  const run = node.run;
  return {
    type: to,
    run: (env) => {
      const v = run(env);
      if (v.kind === 'const') return { kind: 'const', value: convertConstant(v.value, from, to) };
      const n = env.n;
      const src = v.values as Int32Array | BigInt64Array;
      if (to === 'float64' || to === 'timestamp') {
        const out = new Float64Array(n);
        const scale = to === 'timestamp' ? MS_PER_DAY : 1;
        for (let i = 0; i < n; i++) out[i] = Number(src[i]!) * scale;
        return { kind: 'col', values: out, valid: v.valid };
      }
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = BigInt(src[i]!);
      return { kind: 'col', values: out, valid: v.valid };
    },
  };
}

function numericRank(t: SqlType): number {
  return t === 'float64' ? 3 : t === 'int64' ? 2 : t === 'int32' ? 1 : 0;
}

/** The type both of two operands convert to, or undefined when they do not mix. */
function commonType(a: SqlType, b: SqlType): SqlType | undefined {
  if (a === b) return a;
  if (a === 'null') return b;
  if (b === 'null') return a;
  if (isNumeric(a) && isNumeric(b)) return numericRank(a) > numericRank(b) ? a : b;
  if ((a === 'date' && b === 'timestamp') || (a === 'timestamp' && b === 'date')) return 'timestamp';
  return undefined;
}

/** The input columns the query can name, and the compiler for its expressions. */
export class Compiler {
  private readonly names: string[];
  /** Columns read by compiled expressions (not pass-through). */
  readonly used = new Set<number>();

  constructor(private readonly schema: Schema) {
    this.names = schema.fields.map((f) => f.name);
  }

  /** Whether `name` names an input column (exactly, or in another case when only one column fits). */
  hasColumn(name: string): boolean {
    return this.names.includes(name) || this.names.filter((n) => n.toLowerCase() === name.toLowerCase()).length === 1;
  }

  /** Index of an input column; an unknown name is an error with a did-you-mean. */
  resolveColumn(name: string, at: QueryPosition): number {
    let index = this.names.indexOf(name);
    if (index < 0) {
      const folded = this.names.filter((n) => n.toLowerCase() === name.toLowerCase());
      if (folded.length === 1) index = this.names.indexOf(folded[0]!);
    }
    if (index < 0) {
      const hint = didYouMean(name, this.names);
      throw queryError('SQL_UNKNOWN_COLUMN', `unknown column "${name}"${hint ? `; did you mean "${hint}"?` : ''} (columns: ${this.names.join(', ')})`, at);
    }
    return index;
  }

  compile(expr: Expr): Node {
    switch (expr.kind) {
      case 'column': {
        // LOCALTIMESTAMP, SYSDATE ... written without parentheses read as a column unless one has that name.
        if (NILADIC.has(expr.name.toLowerCase()) && !this.hasColumn(expr.name)) {
          return this.call({ kind: 'call', name: expr.name.toLowerCase(), args: [], at: expr.at });
        }
        const index = this.resolveColumn(expr.name, expr.at);
        const field = this.schema.fields[index]!;
        const type = sqlTypeOf(field.type);
        if (!type) throw queryError('SQL_UNSUPPORTED_TYPE', `column "${field.name}" has type ${String(field.type)}, which expressions cannot use; select it as it is (a bare column passes through) or drop it`, expr.at);
        this.used.add(index);
        if (isUint64(field.type)) return { type, run: (env) => uint64InRange(env, index, field.name), column: index };
        return { type, run: (env) => env.column(index), column: index };
      }
      case 'literal':
        return this.literal(expr);
      case 'unary':
        return this.unary(expr.op, this.compile(expr.arg), expr.at);
      case 'binary':
        return this.binary(expr.op, expr.left, expr.right, expr.at);
      case 'isnull':
        return this.isNull(this.compile(expr.arg), expr.negated);
      case 'between': {
        const test: Expr = { kind: 'binary', op: 'AND', left: { kind: 'binary', op: '>=', left: expr.arg, right: expr.low, at: expr.at }, right: { kind: 'binary', op: '<=', left: expr.arg, right: expr.high, at: expr.at }, at: expr.at };
        return this.compile(expr.negated ? { kind: 'unary', op: 'NOT', arg: test, at: expr.at } : test);
      }
      case 'in':
        return this.inList(expr);
      case 'case':
        return this.caseWhen(expr);
      case 'cast':
        return this.cast(expr);
      case 'call':
        return this.call(expr);
    }
  }

  private literal(expr: Extract<Expr, { kind: 'literal' }>): Node {
    switch (expr.literalType) {
      case 'null':
        return constNode('null', null);
      case 'bool':
        return constNode('bool', expr.value as boolean);
      case 'string':
        return constNode('utf8', expr.value as string);
      case 'number': {
        const v = expr.value as number | bigint;
        if (typeof v === 'bigint') return constNode('int64', v);
        if (Number.isInteger(v) && Math.abs(v) <= 2147483647) return constNode('int32', v);
        if (Number.isInteger(v)) return constNode('int64', BigInt(v));
        return constNode('float64', v);
      }
      case 'date':
      case 'timestamp': {
        const ms = parseIsoTimestamp(String(expr.value));
        if (ms === undefined) throw queryError('SQL_BAD_LITERAL', `${expr.literalType.toUpperCase()} '${String(expr.value)}' is not a valid ${expr.literalType}; write YYYY-MM-DD${expr.literalType === 'timestamp' ? ' HH:MM:SS' : ''}`, expr.at);
        return expr.literalType === 'date' ? constNode('date', Math.floor(ms / MS_PER_DAY)) : constNode('timestamp', ms);
      }
      case 'time':
        return constNode('utf8', String(expr.value));
    }
  }

  private mismatch(message: string, at: QueryPosition): never {
    throw queryError('SQL_TYPE_MISMATCH', message, at);
  }

  private unary(op: '-' | '+' | 'NOT', arg: Node, at: QueryPosition): Node {
    if (op === 'NOT') {
      if (arg.type !== 'bool' && arg.type !== 'null') this.mismatch(`NOT needs a boolean, got ${arg.type}`, at);
      return this.generic('bool', [arg], (a) => (a[0] === null ? null : !a[0]), false, 'propagate');
    }
    if (!isNumeric(arg.type) && arg.type !== 'null') this.mismatch(`unary ${op} needs a number, got ${arg.type}`, at);
    if (op === '+') return arg;
    const zero: Node = constNode(arg.type, arg.type === 'int64' ? 0n : 0);
    return this.arithmetic('-', zero, arg, at);
  }

  private binary(op: string, leftExpr: Expr, rightExpr: Expr, at: QueryPosition): Node {
    if (op === 'AND' || op === 'OR') return this.logical(op, this.compile(leftExpr), rightExpr, at);
    let left = this.compile(leftExpr);
    let right = this.compile(rightExpr);
    if (op === '||') return this.generic('utf8', [left, right], (a, t) => toText(a[0]!, t[0]!) + toText(a[1]!, t[1]!), false, 'propagate');
    if (op === 'LIKE' || op === 'NOT LIKE' || op === 'ILIKE' || op === 'NOT ILIKE') return this.like(left, right, op, at);
    [left, right] = this.coerceLiterals(left, right, at);
    if (['+', '-', '*', '/', '%'].includes(op)) return this.arithmetic(op, left, right, at);
    return this.compare(op, left, right, at);
  }

  /** A text literal next to a date, timestamp, number or boolean is read as that type, as PostgreSQL does. */
  private coerceLiterals(left: Node, right: Node, at: QueryPosition): [Node, Node] {
    const convert = (literal: Node, other: Node): Node => {
      if (!literal.constant || literal.type !== 'utf8' || other.type === 'utf8' || other.type === 'null' || literal.constant.value === null) return literal;
      const target = resolveTarget({ name: { int32: 'INT', int64: 'BIGINT', float64: 'DOUBLE', bool: 'BOOLEAN', date: 'DATE', timestamp: 'TIMESTAMP', binary: 'BYTES' }[other.type as 'int32'] });
      try {
        return constNode(target!.type, castValue(literal.constant.value, 'utf8', target!));
      } catch (error) {
        return this.mismatch(`the text ${JSON.stringify(literal.constant.value)} cannot be compared with a ${other.type}: ${(error as Error).message}`, at);
      }
    };
    return [convert(left, right), convert(right, left)];
  }

  private arithmetic(op: string, left: Node, right: Node, at: QueryPosition): Node {
    if (left.type === 'null' || right.type === 'null') {
      const other = left.type === 'null' ? right : left;
      if (!isNumeric(other.type) && other.type !== 'null') this.mismatch(`${op} needs numbers, got ${left.type} and ${right.type}`, at);
      return constNode(other.type === 'null' ? 'int32' : other.type, null);
    }
    if (isTemporal(left.type) && (op === '+' || op === '-') && isNumeric(right.type)) {
      // date + n adds n days, as in PostgreSQL and H2; for a timestamp too.
      const type = left.type;
      const sign = op === '-' ? -1 : 1;
      return this.generic(type, [left, right], (a) => (a[0] as number) + sign * Number(a[1]) * (type === 'date' ? 1 : MS_PER_DAY), false, 'propagate');
    }
    if (op === '-' && isTemporal(left.type) && isTemporal(right.type)) {
      // The difference of two dates is a number of days (PostgreSQL); of timestamps, milliseconds.
      const type = commonType(left.type, right.type)!;
      return this.generic(type === 'date' ? 'int32' : 'int64', [widen(left, type), widen(right, type)], (a) => (type === 'date' ? (a[0] as number) - (a[1] as number) : BigInt(Math.round((a[0] as number) - (a[1] as number)))), false, 'propagate');
    }
    if (!isNumeric(left.type) || !isNumeric(right.type)) this.mismatch(`${op} needs numbers, got ${left.type} and ${right.type}; CAST one side if that is what you mean`, at);
    const type = commonType(left.type, right.type)!;
    const a = widen(left, type);
    const b = widen(right, type);
    const { expr, check } = arithmeticKernel(op, type);
    return this.kernelNode(type, a, b, expr, check);
  }

  private compare(op: string, left: Node, right: Node, at: QueryPosition): Node {
    const type = commonType(left.type, right.type);
    if (!type) this.mismatch(`cannot compare ${left.type} with ${right.type}; CAST one side`, at);
    if (type === 'null' || left.type === 'null' || right.type === 'null') return constNode('bool', null);
    const js = op === '=' ? '===' : op === '<>' ? '!==' : op;
    if (type === 'binary') {
      const test = { '=': (c: number) => c === 0, '<>': (c: number) => c !== 0, '<': (c: number) => c < 0, '<=': (c: number) => c <= 0, '>': (c: number) => c > 0, '>=': (c: number) => c >= 0 }[op as '='];
      return this.generic('bool', [left, right], (a) => test(Buffer.compare(a[0] as Uint8Array, a[1] as Uint8Array)), false, 'propagate');
    }
    return this.kernelNode('bool', widen(left, type), widen(right, type), `x ${js} y ? 1 : 0`, '');
  }

  /** A node running a generated two-operand kernel; NULL in, NULL out. */
  private kernelNode(type: SqlType, a: Node, b: Node, expr: string, check: string): Node {
    const ra = a.run;
    const rb = b.run;
    const node: Node = {
      type,
      run: (env) => {
        const va = ra(env);
        const vb = rb(env);
        if ((va.kind === 'const' && va.value === null) || (vb.kind === 'const' && vb.value === null)) return { kind: 'const', value: null };
        const n = env.n;
        const valid = bothValid(va, vb, n);
        const out = allocate(type, n);
        const fail: Fail = (row, code, message) => env.errors.fail(row, code, message);
        const aConst = va.kind === 'const';
        const bConst = vb.kind === 'const';
        const av = aConst ? (typeof va.value === 'boolean' ? Number(va.value) : va.value) : va.values;
        const bv = bConst ? (typeof vb.value === 'boolean' ? Number(vb.value) : vb.value) : vb.values;
        kernel(expr, aConst, bConst, check)(av, bv, out, n, valid, fail);
        return { kind: 'col', values: out, valid };
      },
    };
    if (!a.constant || !b.constant) return node;
    // Both operands known: compute once now, unless it fails (then every row is rejected at run time).
    const errors = new RowErrors(1);
    const value = scalarAt(node.run({ n: 1, now: 0, errors, column: () => ({ kind: 'const', value: null }), validity: () => null, data: () => { throw new Error('a constant reads no column'); } }), type, 0);
    return errors.list.length ? node : constNode(type, value);
  }

  private logical(op: 'AND' | 'OR', left: Node, rightExpr: Expr, at: QueryPosition): Node {
    const right = this.compile(rightExpr);
    for (const side of [left, right]) if (side.type !== 'bool' && side.type !== 'null') this.mismatch(`${op} needs booleans, got ${side.type}`, at);
    const ra = left.run;
    const rb = right.run;
    const isAnd = op === 'AND';
    return {
      type: 'bool',
      run: (env) => {
        const n = env.n;
        const a = ra(env);
        // The right side matters only where the left does not decide: errors elsewhere are not errors.
        const outer = env.errors.active;
        const mask = new Uint8Array(n);
        if (a.kind === 'col' && a.valid === null) {
          const x = a.values as Uint8Array;
          for (let i = 0; i < n; i++) mask[i] = (outer === null || outer[i] === 1) && x[i] === (isAnd ? 1 : 0) ? 1 : 0;
        } else {
          for (let i = 0; i < n; i++) {
            const x = scalarAt(a, 'bool', i);
            mask[i] = (outer === null || outer[i] === 1) && !(isAnd ? x === false : x === true) ? 1 : 0;
          }
        }
        env.errors.active = mask;
        let b: Vec;
        try {
          b = rb(env);
        } finally {
          env.errors.active = outer;
        }
        if (a.kind === 'col' && a.valid === null && b.kind === 'col' && b.valid === null) {
          const x = a.values as Uint8Array;
          const y = b.values as Uint8Array;
          const out = new Uint8Array(n);
          if (isAnd) for (let i = 0; i < n; i++) out[i] = x[i]! & y[i]!;
          else for (let i = 0; i < n; i++) out[i] = x[i]! | y[i]!;
          return { kind: 'col', values: out, valid: null };
        }
        const out = new Uint8Array(n);
        const valid = new Uint8Array(n);
        let nulls = 0;
        for (let i = 0; i < n; i++) {
          const x = scalarAt(a, 'bool', i);
          const y = scalarAt(b, 'bool', i);
          if (isAnd) {
            if (x === false || y === false) (valid[i] = 1), (out[i] = 0);
            else if (x === null || y === null) nulls++;
            else (valid[i] = 1), (out[i] = 1);
          } else if (x === true || y === true) (valid[i] = 1), (out[i] = 1);
          else if (x === null || y === null) nulls++;
          else (valid[i] = 1), (out[i] = 0);
        }
        return { kind: 'col', values: out, valid: nulls ? valid : null };
      },
    };
  }

  private isNull(arg: Node, negated: boolean): Node {
    const run = arg.run;
    const column = arg.column;
    return {
      type: 'bool',
      run: (env) => {
        const v: Vec = column === undefined ? run(env) : { kind: 'col', values: new Uint8Array(0), valid: env.validity(column) };
        if (v.kind === 'const') return { kind: 'const', value: (v.value === null) !== negated };
        const n = env.n;
        const out = new Uint8Array(n);
        if (v.valid) for (let i = 0; i < n; i++) out[i] = (v.valid[i] === 0) !== negated ? 1 : 0;
        else if (negated) out.fill(1);
        return { kind: 'col', values: out, valid: null };
      },
    };
  }

  private inList(expr: Extract<Expr, { kind: 'in' }>): Node {
    const arg = this.compile(expr.arg);
    const items = expr.list.map((e) => this.coerceLiterals(this.compile(e), arg, e.at)[0]);
    if (!items.every((i) => i.constant)) {
      // Non-constant lists become a chain of OR'ed equalities.
      const chain = expr.list.slice(1).reduce<Expr>((acc, item) => ({ kind: 'binary', op: 'OR', left: acc, right: { kind: 'binary', op: '=', left: expr.arg, right: item, at: item.at }, at: expr.at }), { kind: 'binary', op: '=', left: expr.arg, right: expr.list[0]!, at: expr.at });
      return this.compile(expr.negated ? { kind: 'unary', op: 'NOT', arg: chain, at: expr.at } : chain);
    }
    const values = new Set<unknown>();
    let hasNull = false;
    for (const [k, item] of items.entries()) {
      const type = commonType(arg.type, item.type);
      if (!type) this.mismatch(`IN list item ${k + 1} is ${item.type}, which cannot be compared with ${arg.type}`, expr.list[k]!.at);
      const value = convertConstant(item.constant!.value, item.type, arg.type);
      if (value === null) hasNull = true;
      else values.add(arg.type === 'bool' ? (value ? 1 : 0) : arg.type === 'int64' ? BigInt(value as number) : value);
    }
    const run = arg.run;
    const negated = expr.negated;
    const argType = arg.type;
    return {
      type: 'bool',
      run: (env) => {
        const v = run(env);
        const n = env.n;
        const out = new Uint8Array(n);
        const valid = new Uint8Array(n).fill(1);
        let nulls = 0;
        for (let i = 0; i < n; i++) {
          const x = v.kind === 'const' ? v.value : v.valid && v.valid[i] === 0 ? null : v.values[i];
          if (x === null || x === undefined) {
            valid[i] = 0;
            nulls++;
            continue;
          }
          const key = argType === 'bool' && typeof x === 'boolean' ? (x ? 1 : 0) : argType === 'int64' && typeof x === 'number' ? BigInt(x) : x;
          if (values.has(key)) out[i] = negated ? 0 : 1;
          else if (hasNull) {
            valid[i] = 0;
            nulls++;
          } else out[i] = negated ? 1 : 0;
        }
        return { kind: 'col', values: out, valid: nulls ? valid : null };
      },
    };
  }

  private like(left: Node, right: Node, op: string, at: QueryPosition): Node {
    if (left.type !== 'utf8' && left.type !== 'null') this.mismatch(`${op} needs text on the left, got ${left.type}`, at);
    if (right.type !== 'utf8' && right.type !== 'null') this.mismatch(`${op} needs a text pattern, got ${right.type}`, at);
    const negated = op.startsWith('NOT');
    const flags = op.endsWith('ILIKE') ? 'isu' : 'su';
    const toRegex = (pattern: string): RegExp => {
      let source = '';
      for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i]!;
        if (c === '\\' && i + 1 < pattern.length) source += pattern[++i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        else if (c === '%') source += '.*';
        else if (c === '_') source += '.';
        else source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      }
      return regex(`^${source}$`, flags);
    };
    if (right.constant && typeof right.constant.value === 'string') {
      const re = toRegex(right.constant.value);
      return this.generic('bool', [left], (a) => re.test(a[0] as string) !== negated, false, 'propagate');
    }
    return this.generic('bool', [left, right], (a) => toRegex(a[1] as string).test(a[0] as string) !== negated, false, 'propagate');
  }

  private caseWhen(expr: Extract<Expr, { kind: 'case' }>): Node {
    const whens = expr.whens.map(({ when, then }) => {
      const condition = this.compile(expr.operand ? { kind: 'binary', op: '=', left: expr.operand, right: when, at: when.at } : when);
      if (condition.type !== 'bool' && condition.type !== 'null') this.mismatch(`CASE WHEN needs a boolean condition, got ${condition.type}`, when.at);
      return { condition, value: this.compile(then), at: then.at };
    });
    const otherwise = expr.otherwise ? this.compile(expr.otherwise) : constNode('null', null);
    const branches = [...whens.map((w) => ({ value: w.value, at: w.at })), { value: otherwise, at: expr.otherwise?.at ?? expr.at }];
    const type = this.unify(branches, 'CASE');
    // Every branch NULL: the CASE is NULL, of the type that coerces to anything.
    if (type === 'null') return constNode('null', null);
    return this.conditional(
      type,
      whens.map((w) => ({ condition: w.condition, value: widen(w.value, type) })),
      widen(otherwise, type),
    );
  }

  /** The one type all branches convert to; a text/number mix is a type mismatch at the branch. */
  private unify(branches: { value: Node; at: QueryPosition }[], what: string): SqlType {
    let type: SqlType = 'null';
    for (const branch of branches) {
      const next = commonType(type, branch.value.type);
      if (!next) this.mismatch(`${what} mixes ${type} and ${branch.value.type}; CAST the values to one type`, branch.at);
      type = next;
    }
    return type;
  }

  /**
   * CASE and its relatives: each branch's value is computed with errors counted only for the rows that take
   * that branch (CASE WHEN x = 0 THEN 0 ELSE 1 / x END never fails on x = 0).
   */
  private conditional(type: SqlType, whens: { condition: Node; value: Node }[], otherwise: Node): Node {
    return {
      type,
      run: (env) => {
        const n = env.n;
        const outer = env.errors.active;
        const decided = new Uint8Array(n);
        const out = allocate(type, n);
        const valid = new Uint8Array(n);
        const take = (value: Node, mask: Uint8Array) => {
          env.errors.active = mask;
          const v = value.run(env);
          for (let i = 0; i < n; i++) {
            if (!mask[i]) continue;
            const x = scalarAt(v, type, i);
            if (x !== null) {
              valid[i] = 1;
              (out as unknown[])[i] = type === 'bool' ? (x ? 1 : 0) : x;
            }
          }
        };
        try {
          for (const { condition, value } of whens) {
            env.errors.active = undecided(decided, outer, n);
            const c = condition.run(env);
            const mask = new Uint8Array(n);
            for (let i = 0; i < n; i++) {
              if (!decided[i] && (outer === null || outer[i]) && scalarAt(c, 'bool', i) === true) {
                mask[i] = 1;
                decided[i] = 1;
              }
            }
            take(value, mask);
          }
          take(otherwise, undecided(decided, outer, n));
        } finally {
          env.errors.active = outer;
        }
        return { kind: 'col', values: out, valid };
      },
    };
  }

  private cast(expr: Extract<Expr, { kind: 'cast' }>): Node {
    const arg = this.compile(expr.arg);
    const target = resolveTarget(expr.target);
    if (!target) {
      const hint = didYouMean(expr.target.name, CAST_TARGET_NAMES);
      throw queryError('SQL_UNKNOWN_TYPE', `unknown type ${expr.target.name} in ${expr.orNull ? 'TRY_CAST' : 'CAST'}${hint ? `; did you mean ${hint}?` : ''} (types: ${CAST_TARGET_NAMES.join(', ')})`, expr.at);
    }
    if (arg.type === target.type && target.scale === undefined && !target.min && !target.time) return arg;
    if (arg.type === 'bool' && (target.type === 'date' || target.type === 'timestamp' || target.type === 'binary')) this.mismatch(`cannot CAST a boolean to ${target.name}`, expr.at);
    if (arg.type === 'binary' && target.type !== 'utf8' && target.type !== 'binary') this.mismatch(`cannot CAST bytes to ${target.name}; CAST to VARCHAR first`, expr.at);
    if (isTemporal(arg.type) && (target.type === 'bool' || target.type === 'int32' || target.type === 'float64')) this.mismatch(`cannot CAST a ${arg.type} to ${target.name}`, expr.at);
    return this.castNode(arg, target, expr.orNull);
  }

  private castNode(arg: Node, target: ResolvedTarget, orNull: boolean): Node {
    const from = arg.type;
    if (target.type === 'float64' && target.scale === undefined && (from === 'int32' || from === 'int64')) return widen(arg, 'float64');
    if (target.type === 'int64' && from === 'int32') return widen(arg, 'int64');
    return this.generic(target.type, [arg], (a, t) => castValue(a[0]!, t[0]!, target), orNull, 'propagate');
  }

  private call(expr: Extract<Expr, { kind: 'call' }>): Node {
    const name = expr.name;
    switch (name) {
      case 'coalesce':
      case 'ifnull':
      case 'nvl':
      case 'isnull': {
        if (expr.args.length < 2 && name !== 'coalesce') this.arity(name, '2', expr);
        if (expr.args.length < 1) this.arity(name, 'at least 1', expr);
        // COALESCE(a, b, c) = CASE WHEN a IS NOT NULL THEN a WHEN b IS NOT NULL THEN b ELSE c END.
        const last = expr.args[expr.args.length - 1]!;
        return this.compile({ kind: 'case', operand: undefined, whens: expr.args.slice(0, -1).map((a) => ({ when: { kind: 'isnull', arg: a, negated: true, at: a.at }, then: a })), otherwise: last, at: expr.at });
      }
      case 'nvl2':
        if (expr.args.length !== 3) this.arity(name, '3', expr);
        return this.compile({ kind: 'case', operand: undefined, whens: [{ when: { kind: 'isnull', arg: expr.args[0]!, negated: true, at: expr.at }, then: expr.args[1]! }], otherwise: expr.args[2]!, at: expr.at });
      case 'if':
      case 'iif':
      case 'casewhen':
        if (expr.args.length !== 3) this.arity(name, '3', expr);
        return this.compile({ kind: 'case', operand: undefined, whens: [{ when: expr.args[0]!, then: expr.args[1]! }], otherwise: expr.args[2]!, at: expr.at });
      case 'multi_if':
      case 'multiif': {
        if (expr.args.length < 3 || expr.args.length % 2 === 0) this.arity(name, 'an odd number (3 or more) of', expr);
        const whens: { when: Expr; then: Expr }[] = [];
        for (let i = 0; i + 1 < expr.args.length; i += 2) whens.push({ when: expr.args[i]!, then: expr.args[i + 1]! });
        return this.compile({ kind: 'case', operand: undefined, whens, otherwise: expr.args[expr.args.length - 1]!, at: expr.at });
      }
      case 'greatest':
      case 'least': {
        if (expr.args.length < 1) this.arity(name, 'at least 1', expr);
        const args = expr.args.map((a) => this.compile(a));
        const type = this.unify(args.map((value, i) => ({ value, at: expr.args[i]!.at })), name.toUpperCase());
        if (type === 'null') return constNode('null', null);
        const greater = name === 'greatest';
        // NULLs are ignored, as in PostgreSQL; the result is NULL only when every argument is.
        return this.generic(type, args.map((a) => widen(a, type)), (a) => a.reduce<Scalar>((best, v) => (v === null ? best : best === null ? v : (greater ? v! > best! : v! < best!) ? v : best), null), false, 'handle');
      }
      case '__is_bool': {
        const arg = this.compile(expr.args[0]!);
        const want = (expr.args[1] as { value: boolean }).value;
        return this.generic('bool', [arg], (a) => a[0] === want, false, 'handle');
      }
    }
    const spec = FUNCTIONS[name];
    if (name === 'explode' || name === 'explode_outer') {
      throw queryError('SQL_UNSUPPORTED', `EXPLODE makes rows, not a value: write it after FROM <stream> as LATERAL VIEW [OUTER] EXPLODE(<array>) AS <column> and select <column>`, expr.at);
    }
    if (!spec) {
      const hint = didYouMean(name, [...Object.keys(FUNCTIONS), 'coalesce', 'ifnull', 'nvl', 'nvl2', 'if', 'casewhen', 'multi_if', 'greatest', 'least']);
      throw queryError('SQL_UNKNOWN_FUNCTION', `unknown function ${name}()${hint ? `; did you mean ${hint}()?` : ''} (connectors/sql/README.md lists every function)`, expr.at);
    }
    return this.callSpec(name, spec, expr);
  }

  private arity(name: string, count: string, expr: Extract<Expr, { kind: 'call' }>): never {
    throw queryError('SQL_WRONG_ARGUMENTS', `${name.toUpperCase()} takes ${count} arguments, got ${expr.args.length}`, expr.at);
  }

  private callSpec(name: string, spec: FunctionSpec, expr: Extract<Expr, { kind: 'call' }>): Node {
    const min = spec.params.length - (spec.optional ?? 0);
    const max = spec.rest ? Infinity : spec.params.length;
    if (expr.args.length < min || expr.args.length > max) {
      this.arity(name, min === max ? String(min) : max === Infinity ? `at least ${min}` : `${min} to ${max}`, expr);
    }
    let argExprs = expr.args;
    // DATEADD(DAY, 1, ts), DATEDIFF(day, a, b), date_trunc('day', ts): the SQL Server / PostgreSQL argument
    // order, with the unit first, is accepted as well as SeaTunnel's unit-last order.
    if (spec.unitArgs && argExprs.length > 0 && name !== 'extract' && name !== 'date_part' && this.isUnit(argExprs[0]!)) {
      argExprs = name === 'date_trunc' ? [argExprs[1]!, argExprs[0]!] : name === 'dateadd' || name === 'timestampadd' || name === 'date_add' ? [argExprs[2]!, argExprs[1]!, argExprs[0]!] : [argExprs[1]!, argExprs[2]!, argExprs[0]!];
      if (argExprs.some((a) => a === undefined)) this.arity(name, String(spec.params.length), expr);
    }
    const args = argExprs.map((a, i) => {
      if (spec.unitArgs?.includes(i) && a.kind === 'column' && this.isUnit(a)) return constNode('utf8', a.name.toUpperCase());
      return this.compile(a);
    });
    args.forEach((arg, i) => this.checkParam(name, spec.params[i] ?? spec.rest ?? 'any', arg, i, argExprs[i]!.at));
    const types = args.map((a) => a.type);
    let returns = typeof spec.returns === 'function' ? spec.returns(types) : spec.returns;
    // EXTRACT gives an integer for every field but EPOCH and SECOND (which have fractions).
    if ((name === 'extract' || name === 'date_part') && args[0]?.constant && !/^(EPOCH|SECOND)$/i.test(String(args[0].constant.value))) returns = 'int32';
    const kinds = args.map((_, i) => spec.params[i] ?? spec.rest ?? 'any');
    const impl = spec.impl;
    // Only the arguments whose type differs from what the function reads are converted, in place.
    const convert = kinds.map((kind, i) => (needsConversion(types[i]!, kind) ? i : -1)).filter((i) => i >= 0);
    const column = args[0]?.column;
    if (/^(upper|ucase|lower|lcase)$/.test(name) && column !== undefined && types[0] === 'utf8') {
      const node = this.generic(returns, args, impl, false, 'propagate');
      const upper = name === 'upper' || name === 'ucase';
      return { ...node, arrow: (env) => asciiCase(env.data(column), upper) };
    }
    return this.generic(
      returns,
      args,
      convert.length === 0
        ? impl
        : (a, t, now) => {
            for (const i of convert) if (a[i] !== null) a[i] = convertArg(a[i]!, t[i]!, kinds[i]!);
            return impl(a, t, now);
          },
      false,
      spec.nulls ?? 'propagate',
      spec.volatile || spec.clock,
    );
  }

  private isUnit(expr: Expr): boolean {
    const text = expr.kind === 'column' ? expr.name : expr.kind === 'literal' && typeof expr.value === 'string' ? expr.value : undefined;
    if (text === undefined) return false;
    if (expr.kind === 'column' && this.names.includes(expr.name)) return false;
    return /^(year|quarter|month|week|day|hour|minute|second|millisecond|microsecond|dow|doy|isodow|isoyear|epoch|decade|century|millennium|yy|yyyy|qq|mm|wk|dd|hh|mi|ss|ms)s?$/i.test(text);
  }

  private checkParam(name: string, param: Param, arg: Node, index: number, at: QueryPosition): void {
    const t = arg.type;
    if (t === 'null' || param === 'any' || param === 'str') return;
    const ok = param === 'num' || param === 'exact' || param === 'int' ? isNumeric(t) : param === 'dt' ? isTemporal(t) : param === 'bool' ? t === 'bool' : param === 'bin' ? t === 'binary' || t === 'utf8' : true;
    if (!ok) {
      const wanted = { num: 'a number', exact: 'a number', int: 'an integer', dt: 'a date or timestamp', bool: 'a boolean', bin: 'text or bytes' }[param];
      this.mismatch(`${name.toUpperCase()} argument ${index + 1} must be ${wanted}, got ${t}${param === 'dt' && t === 'utf8' ? `; use CAST(... AS TIMESTAMP) or TO_TIMESTAMP(text, pattern)` : ''}`, at);
    }
  }

  /**
   * A node that applies `f` row by row over its argument columns (still one loop per batch, no tree walk per
   * row). A RowFailure from `f` rejects the row, or gives NULL when `orNull`. With 'propagate', a NULL argument
   * gives NULL without calling `f`. Constant arguments fold the node to a constant at compile time.
   */
  generic(type: SqlType, args: Node[], f: (args: Scalar[], types: readonly SqlType[], now: number) => Scalar, orNull: boolean, nulls: 'propagate' | 'handle', perBatch = false): Node {
    const types = args.map((a) => a.type);
    if (!perBatch && args.every((a) => a.constant)) {
      const values = args.map((a) => a.constant!.value);
      try {
        if (nulls === 'propagate' && values.some((v) => v === null)) return constNode(type, null);
        return constNode(type, f(values, types, Date.now()));
      } catch (error) {
        if (!(error instanceof RowFailure)) throw error;
        if (orNull) return constNode(type, null);
        // A constant that fails fails every row: leave it to run time, where each row is rejected.
      }
    }
    const runs = args.map((a) => a.run);
    const arity = args.length;
    return {
      type,
      run: (env) => {
        const n = env.n;
        const vecs = runs.map((r) => r(env));
        const out = allocate(type, n);
        const valid = new Uint8Array(n);
        const row: Scalar[] = new Array<Scalar>(arity);
        const errors = env.errors;
        let nullCount = 0;
        const compute = (i: number): void => {
          let value: Scalar = null;
          try {
            value = f(row, types, env.now);
          } catch (error) {
            if (!(error instanceof RowFailure)) throw error;
            if (!orNull) errors.fail(i, error.code, error.message);
          }
          if (value === null || value === undefined) {
            nullCount++;
            return;
          }
          valid[i] = 1;
          (out as unknown[])[i] = type === 'bool' ? (value ? 1 : 0) : value;
        };
        const only = vecs[0];
        if (arity === 1 && only?.kind === 'col' && types[0] !== 'bool' && nulls === 'propagate') {
          // One column argument: read its values directly, no per-row dispatch.
          const values = only.values as ArrayLike<Scalar>;
          const inValid = only.valid;
          for (let i = 0; i < n; i++) {
            if (inValid !== null && inValid[i] === 0) nullCount++;
            else {
              row[0] = values[i]!;
              compute(i);
            }
          }
          return { kind: 'col', values: out, valid: nullCount ? valid : null };
        }
        for (let i = 0; i < n; i++) {
          let hasNull = false;
          for (let k = 0; k < arity; k++) {
            const v = scalarAt(vecs[k]!, types[k]!, i);
            row[k] = v;
            if (v === null) hasNull = true;
          }
          if (!hasNull || nulls === 'handle') compute(i);
          else nullCount++;
        }
        return { kind: 'col', values: out, valid: nullCount ? valid : null };
      },
    };
  }
}

/** UPPER/LOWER of an ASCII Utf8 column straight on its bytes; undefined when any byte is not ASCII. */
function asciiCase(data: Data, upper: boolean): Data | undefined {
  const offsets = data.valueOffsets;
  if (!(offsets instanceof Int32Array) || data.type.typeId !== Type.Utf8) return undefined;
  // A sliced column's offsets start at the slice (the bytes do not).
  const first = offsets[0]!;
  const last = offsets[data.length]!;
  const src = (data.values as Uint8Array).subarray(first, last);
  if (!isAscii(src)) return undefined;
  // One-byte strings: V8 changes the case of the whole column at once, and latin1 maps it back byte for byte.
  const text = Buffer.from(src.buffer, src.byteOffset, src.byteLength).toString('latin1');
  const cased = Buffer.from(upper ? text.toUpperCase() : text.toLowerCase(), 'latin1');
  const out = new Uint8Array(cased.buffer, cased.byteOffset, cased.byteLength);
  let rebased = offsets.subarray(0, data.length + 1);
  if (first !== 0) rebased = rebased.map((o) => o - first);
  const valid = validityOf(data, null);
  return makeData({ type: new Utf8(), length: data.length, nullCount: data.nullCount, ...(valid && data.nullCount > 0 ? { nullBitmap: packBits(valid, valid.length) } : {}), valueOffsets: rebased, data: out });
}

function undecided(decided: Uint8Array, outer: Uint8Array | null, n: number): Uint8Array {
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = !decided[i] && (outer === null || outer[i]) ? 1 : 0;
  return mask;
}

function needsConversion(type: SqlType, kind: Param): boolean {
  switch (kind) {
    case 'str':
      return type !== 'utf8';
    case 'num':
      return type === 'int64';
    case 'int':
      return type !== 'int32';
    case 'dt':
      return type === 'date';
    case 'bin':
      return type === 'utf8';
    default:
      return false;
  }
}

/** A non-NULL argument in the form its parameter kind promises the function. */
function convertArg(v: Scalar, type: SqlType, kind: Param): Scalar {
  switch (kind) {
    case 'str':
      return toText(v, type);
    case 'num':
      return typeof v === 'bigint' ? Number(v) : v;
    case 'int':
      return Math.trunc(Number(v));
    case 'dt':
      return type === 'date' ? (v as number) * MS_PER_DAY : v;
    case 'bin':
      return typeof v === 'string' ? new Uint8Array(Buffer.from(v, 'utf8')) : v;
    default:
      return v;
  }
}

