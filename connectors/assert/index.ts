import type { RecordBatch } from 'apache-arrow';
import { type ConnectorDefinition, defineSink } from '../../src/api/connector.js';
import { TidewayError } from '../../src/api/errors.js';
import type { Json } from '../../src/api/json.js';
import { NoopCommitter } from '../../src/api/simple-sink.js';
import { z } from '../../src/api/options.js';
import type { CommitContext, Sink, SinkWriter } from '../../src/api/sink.js';

const fieldRule = z
  .object({
    name: z.string().meta({ description: 'Column the rule checks.' }),
    type: z.string().optional().meta({ description: 'Expected Arrow type, e.g. Int64, Utf8, Float64, Bool.' }),
    not_null: z.boolean().default(false).meta({ description: 'No row may be null in this column.' }),
    unique: z.boolean().default(false).meta({ description: 'No value may appear twice across all writers (values are kept in memory and checkpoints).' }),
    min: z.number().optional().meta({ description: 'Smallest allowed value.' }),
    max: z.number().optional().meta({ description: 'Largest allowed value.' }),
    pattern: z.string().optional().meta({ description: 'A regular expression every string value must match.' }),
    values: z.array(z.union([z.string(), z.number(), z.boolean()])).optional().meta({ description: 'The only allowed values.' }),
  })
  .strict();

const options = z.object({
  rows: z
    .object({
      min: z.number().int().min(0).optional(),
      max: z.number().int().min(0).optional(),
      equals: z.number().int().min(0).optional(),
    })
    .strict()
    .optional()
    .meta({ description: 'Total rows across all writers when input ends: `{min, max, equals}`.' }),
  fields: z.array(fieldRule).default([]).meta({ description: 'Per-column rules: name, type, not_null, unique, min, max, pattern, values.' }),
});

type AssertOptions = z.output<typeof options>;
type FieldRule = z.output<typeof fieldRule>;

interface AssertState {
  rows: number;
  unique: Record<string, string[]>;
  [key: string]: Json;
}

function broke(rule: string, detail: string): TidewayError {
  return new TidewayError('ASSERT_FAILED', `assert rule ${rule} broke: ${detail}`, { context: { connector: 'assert' } });
}

class AssertWriter implements SinkWriter<Json, AssertState> {
  private rows: number;
  private readonly unique = new Map<string, Set<string>>();
  private readonly patterns = new Map<string, RegExp>();
  readonly stats = { rowsWritten: 0, bytesWritten: 0 };

  constructor(
    private readonly options: AssertOptions,
    restored: AssertState | undefined,
  ) {
    this.rows = restored?.rows ?? 0;
    for (const rule of options.fields) {
      if (rule.unique) this.unique.set(rule.name, new Set(restored?.unique[rule.name] ?? []));
      if (rule.pattern) this.patterns.set(rule.name, new RegExp(rule.pattern));
    }
  }

  async write(batch: RecordBatch): Promise<void> {
    this.options.fields.forEach((rule, index) => this.check(batch, rule, `fields[${index}] (${rule.name})`));
    this.rows += batch.numRows;
    this.stats.rowsWritten += batch.numRows;
  }

  private check(batch: RecordBatch, rule: FieldRule, label: string): void {
    const column = batch.getChild(rule.name);
    if (!column) throw broke(label, `column "${rule.name}" is missing; the stream has ${batch.schema.fields.map((f) => f.name).join(', ')}`);
    if (rule.type && String(column.type) !== rule.type && column.type.constructor.name !== rule.type) {
      throw broke(label, `column "${rule.name}" is ${String(column.type)}, expected ${rule.type}`);
    }
    const seen = this.unique.get(rule.name);
    const pattern = this.patterns.get(rule.name);
    const allowed = rule.values ? new Set(rule.values.map(String)) : undefined;
    for (let i = 0; i < batch.numRows; i++) {
      const value: unknown = column.get(i);
      if (value === null || value === undefined) {
        if (rule.not_null) throw broke(label, `row ${this.rows + i} has a null ${rule.name}`);
        continue;
      }
      const n = typeof value === 'bigint' ? Number(value) : typeof value === 'number' ? value : undefined;
      if (rule.min !== undefined && n !== undefined && n < rule.min) throw broke(label, `${rule.name} = ${n} is below min ${rule.min}`);
      if (rule.max !== undefined && n !== undefined && n > rule.max) throw broke(label, `${rule.name} = ${n} is above max ${rule.max}`);
      if (pattern && !pattern.test(String(value))) throw broke(label, `${rule.name} = ${JSON.stringify(String(value))} does not match /${rule.pattern}/`);
      if (allowed && !allowed.has(String(value))) throw broke(label, `${rule.name} = ${JSON.stringify(String(value))} is not one of ${[...allowed].join(', ')}`);
      if (seen) {
        const key = String(value);
        if (seen.has(key)) throw broke(label, `${rule.name} = ${key} appears twice`);
        seen.add(key);
      }
    }
  }

  async prepareCommit(): Promise<Json[]> {
    return [];
  }

  snapshotState(): AssertState {
    const unique: Record<string, string[]> = {};
    for (const [name, values] of this.unique) unique[name] = [...values];
    return { rows: this.rows, unique };
  }

  async abortPrepare(): Promise<void> {}
  async close(): Promise<void> {}
}

/** Checks the rules that span writers (total rows, uniqueness) when input has ended. */
class AssertCommitter extends NoopCommitter {
  constructor(private readonly options: AssertOptions) {
    super();
  }

  override async commit(_infos: readonly Json[], context: CommitContext): Promise<void> {
    if (!context.endOfInput) return;
    const states = context.writerStates.filter((s): s is AssertState => typeof s === 'object' && s !== null && !Array.isArray(s));
    const total = states.reduce((n, s) => n + s.rows, 0);
    const rows = this.options.rows;
    if (rows?.equals !== undefined && total !== rows.equals) throw broke('rows.equals', `the job wrote ${total} rows, expected exactly ${rows.equals}`);
    if (rows?.min !== undefined && total < rows.min) throw broke('rows.min', `the job wrote ${total} rows, expected at least ${rows.min}`);
    if (rows?.max !== undefined && total > rows.max) throw broke('rows.max', `the job wrote ${total} rows, expected at most ${rows.max}`);
    this.options.fields.forEach((rule, index) => {
      if (!rule.unique) return;
      const seen = new Set<string>();
      for (const state of states) {
        for (const value of state.unique[rule.name] ?? []) {
          if (seen.has(value)) throw broke(`fields[${index}] (${rule.name})`, `${rule.name} = ${value} appears twice (in two writers)`);
          seen.add(value);
        }
      }
    });
  }
}

export const assertConnector: ConnectorDefinition = {
  name: 'assert',
  description: 'Checks row counts and column rules; fails the job naming the rule that broke.',
  sink: defineSink({
    options,
    create: (o): Sink =>
      ({
        createWriter: async (_context, restored) => new AssertWriter(o, restored as AssertState | undefined),
        createCommitter: async () => new AssertCommitter(o),
      }) as Sink,
  }),
  example: `sink:\n  - type: assert\n    rows: { equals: 1000 }\n    fields:\n      - { name: id, not_null: true, unique: true }`,
};
