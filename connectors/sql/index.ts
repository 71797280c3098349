import { type Data, type DataType, Field, makeData, makeVector, RecordBatch, Schema, Struct, Type, Utf8, vectorFromArray } from 'apache-arrow';
import { type ConnectorDefinition, defineTransform } from '../../src/api/connector.js';
import { didYouMean, z } from '../../src/api/options.js';
import type { Transform, TransformContext } from '../../src/api/transform.js';
import { Compiler, type Env, type Node, type RowReject, RowErrors } from './compile.js';
import { queryError } from './errors.js';
import { type LateralView, parseQuery, type SelectQuery } from './parse.js';
import { arrowTypeOf, decode, encode, gatherData, packBits, scalarAt, sqlTypeOf, validityOf, type Vec } from './types.js';

export const sqlOptions = z.object({
  query: z
    .string()
    .min(1)
    .meta({
      description:
        'One SELECT over the stage\'s input stream, run on every batch: SELECT <expressions> FROM <input stream> [LATERAL VIEW [OUTER] EXPLODE(<array>) AS <column> ...] [WHERE <condition>]. Projection, expressions, filtering and EXPLODE of arrays into rows (no GROUP BY, JOIN, ORDER BY). The functions are listed in connectors/sql/README.md.',
      example: 'SELECT id, upper(name) AS name, amount * 1.2 AS gross FROM default WHERE amount > 100',
    }),
});

/** The sql transform's options as a job writes them. */
export type SqlConfig = z.input<typeof sqlOptions>;

/** Where a column of the query's rows comes from: an input column, or the elements of a LATERAL VIEW. */
type Source = { kind: 'input'; index: number } | { kind: 'view'; index: number };

/** An output column: a column of the query's rows (`slot`) passed through, or a computed one. */
type Output = { name: string; kind: 'pass'; index: number } | { name: string; kind: 'expr'; node: Node };

/** One LATERAL VIEW [OUTER] EXPLODE(...) AS name, compiled. */
interface ViewPlan {
  readonly name: string;
  readonly outer: boolean;
  /** The columns its argument can name (the input's and the earlier views'), by slot. */
  readonly sources: Source[];
  /** A list column exploded straight from its Arrow child, or a JSON array text (SPLIT, ARRAY) computed. */
  readonly arg: { kind: 'list'; slot: number } | { kind: 'json'; node: Node };
}

interface Plan {
  readonly schema: Schema;
  readonly outputs: Output[];
  readonly where: Node | undefined;
  /** The WHERE names a LATERAL VIEW column, so it runs on the exploded rows (else on the input rows, first). */
  readonly whereLate: boolean;
  readonly views: ViewPlan[];
  /** The columns the SELECT list and WHERE can name, by slot: the input's, then the views' (one replaces an input column of its name). */
  readonly sources: Source[];
}

const LIST_TYPES: ReadonlySet<Type> = new Set([Type.List, Type.LargeList, Type.FixedSizeList]);

/**
 * Runs a SELECT over each batch. The query is parsed once, type-checked against the input schema in
 * `outputSchema` (so `check` reports unknown columns and functions before anything runs) and compiled into
 * column-at-a-time closures over the batch's Arrow columns; a bare column is passed through without copying.
 * LATERAL VIEW EXPLODE turns each row into one row per array element: the rows are a list of input row
 * indices (repeated per element), which every column is gathered by, beside the element columns.
 */
export class SqlTransform implements Transform {
  private readonly query: SelectQuery;
  private plan: Plan | undefined;

  constructor(
    private readonly text: string,
    private readonly stream: string | undefined,
  ) {
    this.query = parseQuery(text);
  }

  outputSchema(input: Schema): Schema {
    const { from } = this.query;
    if (this.stream !== undefined && from.name !== this.stream && from.name.toLowerCase() !== this.stream.toLowerCase()) {
      const hint = didYouMean(from.name, [this.stream]);
      throw queryError('SQL_UNKNOWN_STREAM', `FROM names "${from.name}", but this stage reads the stream "${this.stream}"${hint ? '; did you mean it?' : `; write FROM ${/^[A-Za-z_]\w*$/.test(this.stream) ? this.stream : `"${this.stream}"`}`}`, from.at);
    }
    const columns = [...input.fields];
    const sources: Source[] = input.fields.map((_, index) => ({ kind: 'input', index }));
    const views: ViewPlan[] = [];
    for (const [k, view] of this.query.lateralViews.entries()) {
      const compiler = new Compiler(new Schema([...columns]));
      const { arg, type } = explodeArgument(compiler, columns, view);
      views.push({ name: view.alias, outer: view.outer, sources: [...sources], arg });
      // AS a column that exists replaces it in place (SeaTunnel's rule); a new name is added at the end.
      const slot = compiler.hasColumn(view.alias) ? compiler.resolveColumn(view.alias, view.aliasAt) : -1;
      const field = new Field(slot >= 0 ? columns[slot]!.name : view.alias, type, true);
      if (slot >= 0) {
        columns[slot] = field;
        sources[slot] = { kind: 'view', index: k };
      } else {
        columns.push(field);
        sources.push({ kind: 'view', index: k });
      }
    }
    const rows = new Schema(columns);
    const compiler = new Compiler(rows);
    const outputs: Output[] = [];
    const fields: Field[] = [];
    const seen = new Map<string, number>();
    const add = (output: Output, field: Field, at: { line: number; column: number; offset: number }) => {
      if (seen.has(output.name)) throw queryError('SQL_DUPLICATE_COLUMN', `the output has two columns named "${output.name}"; give one an alias with AS`, at);
      seen.set(output.name, outputs.length);
      outputs.push(output);
      fields.push(field);
    };
    for (const [k, item] of this.query.items.entries()) {
      if (item.kind === 'star') {
        rows.fields.forEach((f, index) => add({ name: f.name, kind: 'pass', index }, f, item.at));
        continue;
      }
      const expr = item.expr;
      if (expr.kind === 'column' && compiler.hasColumn(expr.name)) {
        const index = compiler.resolveColumn(expr.name, expr.at);
        const f = rows.fields[index]!;
        const name = item.alias ?? f.name;
        add({ name, kind: 'pass', index }, new Field(name, f.type, f.nullable, f.metadata), item.at);
        continue;
      }
      const node = compiler.compile(expr);
      const name = item.alias ?? defaultName(expr, k);
      add({ name, kind: 'expr', node }, new Field(name, arrowTypeOf(node.type), true), item.at);
    }
    let where: Node | undefined;
    let whereLate = false;
    if (this.query.where) {
      const whereCompiler = new Compiler(rows);
      where = whereCompiler.compile(this.query.where);
      if (where.type !== 'bool' && where.type !== 'null') throw queryError('SQL_TYPE_MISMATCH', `WHERE needs a boolean condition, got ${where.type}`, this.query.where.at);
      whereLate = [...whereCompiler.used].some((slot) => sources[slot]!.kind === 'view');
    }
    this.plan = { schema: new Schema(fields), outputs, where, whereLate, views, sources };
    return this.plan.schema;
  }

  apply(batch: RecordBatch, context: TransformContext): RecordBatch | null {
    const plan = this.plan ?? (this.outputSchema(batch.schema), this.plan!);
    const n = batch.numRows;
    const now = Date.now();
    /** The input row of each row being computed (null: the input rows as they are), and the views' element columns for them. */
    let rows = null as Int32Array | null;
    let views: Data[] = [];
    const envFor = (sources: Source[], errors: RowErrors): Env => {
      const at = rows;
      const elements = views;
      const cache = new Map<number, Vec>();
      const inputData = (index: number) => batch.getChildAt(index)!.data[0]!;
      return {
        n: at ? at.length : n,
        now,
        errors,
        validity: (slot) => {
          const source = sources[slot]!;
          return source.kind === 'input' ? validityOf(inputData(source.index), at) : validityOf(elements[source.index]!, null);
        },
        data: (slot) => {
          const source = sources[slot]!;
          if (source.kind === 'view') return elements[source.index]!;
          return at ? gatherData(inputData(source.index), at) : inputData(source.index);
        },
        column: (slot) => {
          let vec = cache.get(slot);
          if (!vec) {
            const source = sources[slot]!;
            if (source.kind === 'input') vec = decode(batch.getChildAt(source.index)!, sqlTypeOf(batch.schema.fields[source.index]!.type)!, at);
            else {
              const data = elements[source.index]!;
              vec = decode(makeVector(data), sqlTypeOf(data.type)!, null);
            }
            cache.set(slot, vec);
          }
          return vec;
        },
      };
    };
    // Rejected rows by input index: each reported once, and none of the rows made from it is output.
    const rejected = new Uint8Array(n);
    const rejects: RowReject[] = [];
    const collect = (errors: RowErrors, at: Int32Array | null) => {
      for (const r of errors.list) {
        const row = at ? at[r.row]! : r.row;
        if (rejected[row]) continue;
        rejected[row] = 1;
        rejects.push({ ...r, row });
      }
    };
    /** Keeps rows `sel` of the rows being computed. */
    const select = (sel: Int32Array) => {
      rows = rows ? gatherIndex(rows, sel) : sel;
      views = views.map((d) => gatherData(d, sel));
    };
    const filter = (where: Node) => {
      const m = rows ? rows.length : n;
      const errors = new RowErrors(m);
      const test = where.run(envFor(plan.sources, errors));
      const keep = new Int32Array(m);
      let kept = 0;
      if (test.kind === 'col' && test.valid === null && errors.list.length === 0) {
        const pass = test.values as Uint8Array;
        for (let i = 0; i < m; i++) if (pass[i] === 1) keep[kept++] = i;
      } else {
        for (let i = 0; i < m; i++) if (scalarAt(test, 'bool', i) === true && !errors.failed[i]) keep[kept++] = i;
      }
      collect(errors, rows);
      if (kept < m) select(keep.subarray(0, kept));
    };

    if (plan.where && !plan.whereLate) filter(plan.where);
    for (const view of plan.views) {
      const m = rows ? rows.length : n;
      const errors = new RowErrors(m);
      errors.column = view.name;
      let exploded: { rep: Int32Array; data: Data };
      if (view.arg.kind === 'list') {
        const source = view.sources[view.arg.slot]!;
        exploded = source.kind === 'input' ? explodeList(batch.getChildAt(source.index)!.data[0]!, rows, m, view.outer) : explodeList(views[source.index]!, null, m, view.outer);
      } else {
        exploded = explodeJson(view.arg.node.run(envFor(view.sources, errors)), m, view.outer, errors);
      }
      collect(errors, rows);
      select(exploded.rep);
      views.push(exploded.data);
    }
    if (plan.where && plan.whereLate) filter(plan.where);

    const m = rows ? rows.length : n;
    const errors = new RowErrors(m);
    const env = envFor(plan.sources, errors);
    let children: Data[] = plan.outputs.map((output) => {
      if (output.kind === 'pass') return env.data(output.index);
      errors.column = output.name;
      const fast = output.node.arrow?.(env);
      if (fast) return fast;
      const vec = output.node.run(env);
      return encode(vec, output.node.type, m);
    });
    collect(errors, rows);

    rejects.sort((a, b) => a.row - b.row);
    for (const r of rejects) context.reject(r.row, { code: r.code, message: r.message, ...(r.column ? { column: r.column } : {}) });

    let count = m;
    if (errors.list.length > 0 || (plan.views.length > 0 && rejects.length > 0)) {
      // A rejected input row gives no output row, whichever of the rows made from it failed.
      const at = rows;
      const keep: number[] = [];
      for (let j = 0; j < m; j++) if (!rejected[at ? at[j]! : j]) keep.push(j);
      if (keep.length < m) {
        const keepRows = Int32Array.from(keep);
        children = children.map((d) => gatherData(d, keepRows));
        count = keepRows.length;
      }
    }
    if (plan.views.length > 0) {
      // Rows out are not a subset of rows in: the input rows dropped are those no kept output row came from.
      const from = new Uint8Array(n);
      let kept = 0;
      for (let j = 0; j < m; j++) {
        const row = rows ? rows[j]! : j;
        if (!rejected[row] && from[row] === 0) {
          from[row] = 1;
          kept++;
        }
      }
      context.filtered?.(n - kept - rejects.length);
    }
    if (count === 0) return null;
    if (count === n && rows === null && !plan.where && plan.views.length === 0 && plan.outputs.every((o, k) => o.kind === 'pass' && o.index === k) && plan.outputs.length === batch.numCols) return batch;
    return new RecordBatch(plan.schema, makeData({ type: new Struct(plan.schema.fields), length: count, nullCount: 0, children }));
  }
}

/** The values of `rows` at positions `sel`. */
function gatherIndex(rows: Int32Array, sel: Int32Array): Int32Array {
  const out = new Int32Array(sel.length);
  for (let i = 0; i < sel.length; i++) out[i] = rows[sel[i]!]!;
  return out;
}

/**
 * Checks EXPLODE's argument: a list column (its elements keep their Arrow type), or SPLIT(...) / ARRAY(...),
 * whose JSON array text gives text elements. Anything else is refused at check time.
 */
function explodeArgument(compiler: Compiler, columns: Field[], view: LateralView): { arg: ViewPlan['arg']; type: DataType } {
  const expr = view.arg;
  if (expr.kind === 'column' && compiler.hasColumn(expr.name)) {
    const slot = compiler.resolveColumn(expr.name, expr.at);
    const field = columns[slot]!;
    if (LIST_TYPES.has(field.type.typeId)) return { arg: { kind: 'list', slot }, type: (field.type as DataType & { children: Field[] }).children[0]!.type };
    throw queryError('SQL_TYPE_MISMATCH', `EXPLODE needs an array: a list column, SPLIT(text, separator) or ARRAY(...); column "${field.name}" has type ${String(field.type)}`, expr.at);
  }
  const node = compiler.compile(expr);
  if (expr.kind === 'call' && (expr.name === 'split' || expr.name === 'array')) return { arg: { kind: 'json', node }, type: new Utf8() };
  throw queryError('SQL_TYPE_MISMATCH', `EXPLODE needs an array: a list column, SPLIT(text, separator) or ARRAY(...); got a ${node.type} expression`, expr.at);
}

/**
 * Explodes a list column (rows `rows` of `data`, or its first `m` rows): the row positions repeated once per
 * element, and the elements gathered from the list's child column. Without OUTER a NULL or empty list gives no
 * row and NULL elements are skipped (as SeaTunnel does); with OUTER they give a row with a NULL element.
 */
function explodeList(data: Data, rows: Int32Array | null, m: number, outer: boolean): { rep: Int32Array; data: Data } {
  const child = data.children[0]!;
  const fixed = data.type.typeId === Type.FixedSizeList ? (data.type as unknown as { listSize: number }).listSize : -1;
  const offsets = data.valueOffsets as Int32Array | BigInt64Array;
  const valid = validityOf(data, rows);
  const childValid = validityOf(child, null);
  const from = new Float64Array(m);
  const to = new Float64Array(m);
  let total = 0;
  for (let i = 0; i < m; i++) {
    if (valid && valid[i] === 0) continue;
    const r = rows ? rows[i]! : i;
    from[i] = fixed >= 0 ? r * fixed : Number(offsets[r]!);
    to[i] = fixed >= 0 ? (r + 1) * fixed : Number(offsets[r + 1]!);
  }
  for (let i = 0; i < m; i++) {
    if (from[i] === to[i]) total += outer ? 1 : 0;
    else if (outer || !childValid) total += to[i]! - from[i]!;
    else for (let e = from[i]!; e < to[i]!; e++) total += childValid[e]!;
  }
  const rep = new Int32Array(total);
  const elements = new Int32Array(total);
  let nulls: Uint8Array | null = null;
  let k = 0;
  for (let i = 0; i < m; i++) {
    if (from[i] === to[i]) {
      if (!outer) continue;
      nulls ??= new Uint8Array(total).fill(1);
      nulls[k] = 0;
      rep[k++] = i;
      continue;
    }
    for (let e = from[i]!; e < to[i]!; e++) {
      if (!outer && childValid && childValid[e] === 0) continue;
      rep[k] = i;
      elements[k++] = e;
    }
  }
  if (nulls && child.length === 0) return { rep, data: vectorFromArray(new Array<null>(total).fill(null), child.type as DataType).data[0]! };
  let out = gatherData(child, elements);
  if (nulls) {
    const merged = validityOf(out, null) ?? new Uint8Array(total).fill(1);
    let nullCount = 0;
    for (let i = 0; i < total; i++) {
      merged[i]! &= nulls[i]!;
      nullCount += merged[i] ? 0 : 1;
    }
    out = out.clone(out.type, 0, total, nullCount, [out.valueOffsets, out.values, packBits(merged, total), out.typeIds] as unknown as typeof out.buffers);
  }
  return { rep, data: out };
}

/**
 * Explodes JSON array text (what SPLIT and ARRAY give): each element as text (a string as it is, other values
 * as JSON), NULL and empty arrays and NULL elements as in explodeList. A row whose argument failed gives no row.
 */
function explodeJson(vec: Vec, m: number, outer: boolean, errors: RowErrors): { rep: Int32Array; data: Data } {
  const rep: number[] = [];
  const values: (string | null)[] = [];
  let hasNull = false;
  for (let i = 0; i < m; i++) {
    if (errors.failed[i]) continue;
    const text = scalarAt(vec, 'utf8', i) as string | null;
    let items: unknown[] = [];
    if (text !== null) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      if (!Array.isArray(parsed)) {
        errors.fail(i, 'SQL_BAD_ARGUMENT', `EXPLODE needs an array, got ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text)}`);
        continue;
      }
      items = parsed;
    }
    if (items.length === 0) {
      if (outer) {
        rep.push(i);
        values.push(null);
        hasNull = true;
      }
      continue;
    }
    for (const item of items) {
      if (item === null && !outer) continue;
      rep.push(i);
      values.push(item === null ? null : typeof item === 'string' ? item : JSON.stringify(item));
      if (item === null) hasNull = true;
    }
  }
  const valid = hasNull ? Uint8Array.from(values, (v) => (v === null ? 0 : 1)) : null;
  return { rep: Int32Array.from(rep), data: encode({ kind: 'col', values, valid }, 'utf8', values.length) };
}

/** The name of an unaliased computed column: the function's name, else col_<position>. */
function defaultName(expr: SelectQuery['items'][number] extends infer I ? (I extends { expr: infer E } ? E : never) : never, k: number): string {
  if (expr.kind === 'call') return expr.name;
  if (expr.kind === 'cast') return expr.arg.kind === 'column' ? expr.arg.name : `col_${k + 1}`;
  return `col_${k + 1}`;
}

export const sqlConnector: ConnectorDefinition = {
  name: 'sql',
  description: 'Runs a SQL SELECT over each batch: expressions, CASE, CAST/TRY_CAST, functions, WHERE filtering and LATERAL VIEW EXPLODE.',
  transform: defineTransform({ options: sqlOptions, create: (o, context) => new SqlTransform(o.query, context.input) }),
  example: `transform:\n  - type: sql\n    query: |\n      SELECT id, upper(name) AS name, amount * 1.2 AS gross\n      FROM default\n      WHERE amount > 100 AND category IN ('books', 'games')`,
};
