import { type DataType, Field, type RecordBatch, Schema, vectorFromArray } from 'apache-arrow';
import type { ConnectorDefinition } from '../../../src/api/connector.js';
import type { Logger } from '../../../src/api/logger.js';
import { silentLogger } from '../../../src/api/logger.js';
import { parseOptions } from '../../../src/api/options.js';
import type { RowError, Transform, TransformContext } from '../../../src/api/transform.js';
import { batchOf } from '../../../connectors/field-kit/rows.js';

/** The transform a connector builds from raw options (as a job writes them); throws on invalid options. */
export async function transformOf(connector: ConnectorDefinition, raw: Record<string, unknown>, logger: Logger = silentLogger): Promise<Transform> {
  const parsed = parseOptions(connector.transform!.options, raw, 'transform[0]');
  if (!parsed.ok) throw new Error(parsed.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  return connector.transform!.create(parsed.value, { jobName: 't', mode: 'batch', parallelism: 1, logger, baseDir: '.' });
}

/** The option problems of raw options, as `path: message` lines (empty when they are valid). */
export function optionIssues(connector: ConnectorDefinition, raw: Record<string, unknown>): string[] {
  const parsed = parseOptions(connector.transform!.options, raw, 'transform[0]');
  return parsed.ok ? [] : parsed.issues.map((i) => `${i.path}: ${i.message}`);
}

/** A batch from columns of JS values with their Arrow types. */
export function batchFrom(columns: Record<string, { type: DataType; values: unknown[]; nullable?: boolean }>): RecordBatch {
  const entries = Object.entries(columns);
  const schema = new Schema(entries.map(([name, c]) => new Field(name, c.type, c.nullable ?? true)));
  const children = entries.map(([, c]) => vectorFromArray(c.values, c.type).data[0]!);
  return batchOf(schema, children, entries[0]![1].values.length);
}

/** Every row of a batch as a plain object (bigints kept). */
export function rowsOf(batch: RecordBatch | null): Record<string, unknown>[] {
  if (!batch) return [];
  const names = batch.schema.fields.map((f) => f.name);
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < batch.numRows; i++) {
    const row: Record<string, unknown> = {};
    for (const name of names) {
      const value = batch.getChild(name)!.get(i) as unknown;
      row[name] = value ?? null;
    }
    out.push(row);
  }
  return out;
}

/** A context that records rejected rows instead of failing (a tolerant dirty-data policy). */
export function collectingContext(): TransformContext & { rejected: (RowError & { row: number })[] } {
  const rejected: (RowError & { row: number })[] = [];
  return { rejected, reject: (row, error) => void rejected.push({ row, ...error }) };
}

/** A context like the engine's default policy: the first rejected row throws. */
export const failingContext: TransformContext = {
  reject(row, error) {
    throw new Error(`rejected row ${row}: ${error.code}: ${error.message}`);
  },
};

/** The check-time error outputSchema throws for `input`, as {code, option, message}. */
export function schemaError(transform: Transform, input: Schema): { code: string; option: unknown; message: string } {
  try {
    transform.outputSchema(input);
  } catch (error) {
    const e = error as { code: string; context: { option?: unknown }; message: string };
    return { code: e.code, option: e.context.option, message: e.message };
  }
  throw new Error('outputSchema accepted the input');
}

/** A logger that keeps its lines. */
export function recordingLogger(): Logger & { lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const at = (level: string) => (message: string) => void lines.push({ level, message });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
