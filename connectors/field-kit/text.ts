import { Buffer } from 'node:buffer';
import { type Data, DataType, makeVector, Type } from 'apache-arrow';

/** Whether columns of this type hold text the field transforms can read: utf8, large utf8, or a dictionary of either. */
export function isText(type: DataType): boolean {
  if (DataType.isDictionary(type)) return isText(type.dictionary);
  return type.typeId === Type.Utf8 || type.typeId === Type.LargeUtf8;
}

/** A column type as users write it in messages. */
export function describeType(type: DataType): string {
  return `of type ${String(type)}`;
}

/**
 * A reader of the strings of a text column: `read(i)` is row i's text, or null. Plain utf8 columns are
 * decoded straight from their buffers (one Buffer view for the whole column); other text types go through
 * arrow-js's own accessors.
 */
export function textReader(data: Data): (row: number) => string | null {
  const bitmap = data.nullCount > 0 ? data.nullBitmap : undefined;
  const offset = data.offset;
  const valid = bitmap ? (row: number) => ((bitmap[(offset + row) >> 3]! >> ((offset + row) & 7)) & 1) === 1 : () => true;
  if (data.typeId === Type.Utf8 && data.valueOffsets && data.values) {
    const offsets = data.valueOffsets as Int32Array;
    const values = data.values as Uint8Array;
    const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
    return (row) => (valid(row) ? bytes.toString('utf8', offsets[row]!, offsets[row + 1]!) : null);
  }
  const vector = makeVector(data);
  return (row) => {
    if (!valid(row)) return null;
    const value = vector.get(row) as unknown;
    return value === null || value === undefined ? null : String(value);
  };
}
