import { type Data, Field, makeData, RecordBatch, Schema, Struct } from 'apache-arrow';
import { type ConnectorDefinition, defineTransform } from '../../src/api/connector.js';
import { didYouMean, z } from '../../src/api/options.js';
import type { Transform, TransformContext } from '../../src/api/transform.js';
import { Compiler, type Env, type Node, type RowReject, RowErrors } from './compile.js';
import { queryError } from './errors.js';
import { parseQuery, type SelectQuery } from './parse.js';
import { arrowTypeOf, decode, encode, gatherData, scalarAt, sqlTypeOf, validityOf, type Vec } from './types.js';

export const sqlOptions = z.object({
  query: z
    .string()
    .min(1)
    .meta({
      description:
        'One SELECT over the stage\'s input stream, run on every batch: SELECT <expressions> FROM <input stream> [WHERE <condition>]. Projection, expressions and filtering only (no GROUP BY, JOIN, ORDER BY). The functions are listed in connectors/sql/README.md.',
      example: 'SELECT id, upper(name) AS name, amount * 1.2 AS gross FROM default WHERE amount > 100',
    }),
});

/** The sql transform's options as a job writes them. */
export type SqlConfig = z.input<typeof sqlOptions>;

type Output = { name: string; kind: 'pass'; index: number } | { name: string; kind: 'expr'; node: Node };

interface Plan {
  readonly schema: Schema;
  readonly outputs: Output[];
  readonly where: Node | undefined;
}

/**
 * Runs a SELECT over each batch. The query is parsed once, type-checked against the input schema in
 * `outputSchema` (so `check` reports unknown columns and functions before anything runs) and compiled into
 * column-at-a-time closures over the batch's Arrow columns; a bare column is passed through without copying.
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
    const compiler = new Compiler(input);
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
        input.fields.forEach((f, index) => add({ name: f.name, kind: 'pass', index }, f, item.at));
        continue;
      }
      const expr = item.expr;
      if (expr.kind === 'column' && compiler.hasColumn(expr.name)) {
        const index = compiler.resolveColumn(expr.name, expr.at);
        const f = input.fields[index]!;
        const name = item.alias ?? f.name;
        add({ name, kind: 'pass', index }, new Field(name, f.type, f.nullable, f.metadata), item.at);
        continue;
      }
      const node = compiler.compile(expr);
      const name = item.alias ?? defaultName(expr, k);
      add({ name, kind: 'expr', node }, new Field(name, arrowTypeOf(node.type), true), item.at);
    }
    let where: Node | undefined;
    if (this.query.where) {
      where = compiler.compile(this.query.where);
      if (where.type !== 'bool' && where.type !== 'null') throw queryError('SQL_TYPE_MISMATCH', `WHERE needs a boolean condition, got ${where.type}`, this.query.where.at);
    }
    this.plan = { schema: new Schema(fields), outputs, where };
    return this.plan.schema;
  }

  apply(batch: RecordBatch, context: TransformContext): RecordBatch | null {
    const plan = this.plan ?? (this.outputSchema(batch.schema), this.plan!);
    const n = batch.numRows;
    const now = Date.now();
    const envFor = (rows: Int32Array | null, errors: RowErrors): Env => {
      const cache = new Map<number, Vec>();
      return {
        n: rows ? rows.length : n,
        now,
        errors,
        validity: (index) => validityOf(batch.getChildAt(index)!.data[0]!, rows),
        data: (index) => {
          const data = batch.getChildAt(index)!.data[0]!;
          return rows ? gatherData(data, rows) : data;
        },
        column: (index) => {
          let vec = cache.get(index);
          if (!vec) {
            vec = decode(batch.getChildAt(index)!, sqlTypeOf(batch.schema.fields[index]!.type)!, rows);
            cache.set(index, vec);
          }
          return vec;
        },
      };
    };

    let sel: Int32Array | null = null;
    const whereErrors = new RowErrors(n);
    if (plan.where) {
      const test = plan.where.run(envFor(null, whereErrors));
      const keep = new Int32Array(n);
      let kept = 0;
      if (test.kind === 'col' && test.valid === null && whereErrors.list.length === 0) {
        const pass = test.values as Uint8Array;
        for (let i = 0; i < n; i++) if (pass[i] === 1) keep[kept++] = i;
      } else {
        for (let i = 0; i < n; i++) if (scalarAt(test, 'bool', i) === true && !whereErrors.failed[i]) keep[kept++] = i;
      }
      if (kept < n) sel = keep.subarray(0, kept);
    }
    const m = sel ? sel.length : n;
    const errors = new RowErrors(m);
    const env = envFor(sel, errors);
    let children: Data[] = plan.outputs.map((output) => {
      if (output.kind === 'pass') {
        const data = batch.getChildAt(output.index)!.data[0]!;
        return sel ? gatherData(data, sel) : data;
      }
      errors.column = output.name;
      const fast = output.node.arrow?.(env);
      if (fast) return fast;
      const vec = output.node.run(env);
      return encode(vec, output.node.type, m);
    });

    const rejected: RowReject[] = [...whereErrors.list, ...errors.list.map((r) => ({ ...r, row: sel ? sel[r.row]! : r.row }))].sort((a, b) => a.row - b.row);
    for (const r of rejected) context.reject(r.row, { code: r.code, message: r.message, ...(r.column ? { column: r.column } : {}) });

    let rows = m;
    if (errors.list.length > 0) {
      const keep: number[] = [];
      for (let j = 0; j < m; j++) if (!errors.failed[j]) keep.push(j);
      const keepRows = Int32Array.from(keep);
      children = children.map((d) => gatherData(d, keepRows));
      rows = keepRows.length;
    }
    if (rows === 0) return null;
    if (rows === n && !plan.where && plan.outputs.every((o, k) => o.kind === 'pass' && o.index === k) && plan.outputs.length === batch.numCols) return batch;
    return new RecordBatch(plan.schema, makeData({ type: new Struct(plan.schema.fields), length: rows, nullCount: 0, children }));
  }
}

/** The name of an unaliased computed column: the function's name, else col_<position>. */
function defaultName(expr: SelectQuery['items'][number] extends infer I ? (I extends { expr: infer E } ? E : never) : never, k: number): string {
  if (expr.kind === 'call') return expr.name;
  if (expr.kind === 'cast') return expr.arg.kind === 'column' ? expr.arg.name : `col_${k + 1}`;
  return `col_${k + 1}`;
}

export const sqlConnector: ConnectorDefinition = {
  name: 'sql',
  description: 'Runs a SQL SELECT over each batch: expressions, CASE, CAST/TRY_CAST, functions and WHERE filtering.',
  transform: defineTransform({ options: sqlOptions, create: (o, context) => new SqlTransform(o.query, context.input) }),
  example: `transform:\n  - type: sql\n    query: |\n      SELECT id, upper(name) AS name, amount * 1.2 AS gross\n      FROM default\n      WHERE amount > 100 AND category IN ('books', 'games')`,
};
