import { RecordBatchReader, type Schema, Table, tableToIPC } from 'apache-arrow';

/** Arrow schemas cross threads as an IPC stream holding only the schema message. */
export function schemaToIpc(schema: Schema): Uint8Array {
  return tableToIPC(new Table(schema), 'stream');
}

export function schemaFromIpc(bytes: Uint8Array): Schema {
  return RecordBatchReader.from(bytes).open().schema;
}
