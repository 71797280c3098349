import { RecordBatchReader, type Schema, Table, tableToIPC } from 'apache-arrow';

/**
 * Schemas as plain text, so that a source can infer a schema once on the coordinator and hand it to
 * readers on other threads (through `prepared` JSON), and compare the schemas of several files.
 */

/** The schema as base64 Arrow IPC (an empty stream). */
export function schemaToText(schema: Schema): string {
  return Buffer.from(tableToIPC(new Table(schema), 'stream')).toString('base64');
}

export function schemaFromText(text: string): Schema {
  return RecordBatchReader.from(Buffer.from(text, 'base64')).open().schema;
}

/** `id: Int64, name: Utf8`, for messages. */
export function describeSchema(schema: Schema): string {
  return schema.fields.map((f) => `${f.name}: ${String(f.type)}`).join(', ');
}

/** Same column names and types, in the same order (nullability and metadata aside). */
export function sameColumns(expected: Schema, actual: Schema): boolean {
  if (expected === actual) return true;
  return expected.fields.length === actual.fields.length && expected.fields.every((f, i) => f.name === actual.fields[i]!.name && String(f.type) === String(actual.fields[i]!.type));
}
