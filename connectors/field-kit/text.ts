import { Buffer } from 'node:buffer';
import { Data, DataType, makeVector, Type } from 'apache-arrow';

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

/**
 * A utf8 (or large utf8) column built from strings. The strings are kept until `finish`, which encodes them
 * all at once (one `Buffer.from` of their concatenation): encoding value by value costs more than the
 * transforms' own work. `appendText` has the shape of TypedColumn's, and never refuses a value.
 */
export class TextColumn {
  private values: (string | null)[] = [];
  private nulls = 0;

  constructor(private readonly type: DataType) {}

  appendText(text: string | null): undefined {
    this.values.push(text);
    if (text === null) this.nulls++;
    return undefined;
  }

  appendNull(): void {
    this.appendText(null);
  }

  /** The column built so far; the builder starts again empty. */
  finish(): Data {
    const values = this.values;
    const joined = values.join('');
    const encoded = Buffer.from(joined, 'utf8');
    // Small strings are encoded into Node's shared pool; the column must own its buffer.
    const bytes = encoded.byteOffset === 0 && encoded.buffer.byteLength === encoded.length ? new Uint8Array(encoded.buffer) : Uint8Array.prototype.slice.call(encoded);
    // Each character takes at least one byte, and exactly one only when every character is ASCII.
    const ascii = bytes.length === joined.length;
    const large = this.type.typeId === Type.LargeUtf8;
    if (!large && bytes.length > 2 ** 31 - 1) throw new RangeError('more than 2 GiB of text in one batch of a utf8 column; make the batches smaller');
    const offsets = new Int32Array(values.length + 1);
    let at = 0;
    for (let i = 0; i < values.length; i++) {
      const text = values[i];
      if (text) at += ascii ? text.length : Buffer.byteLength(text, 'utf8');
      offsets[i + 1] = at;
    }
    let nullBitmap: Uint8Array | undefined;
    if (this.nulls > 0) {
      nullBitmap = new Uint8Array((values.length + 7) >> 3);
      for (let i = 0; i < values.length; i++) if (values[i] !== null) nullBitmap[i >> 3]! |= 1 << (i & 7);
    }
    const valueOffsets = large ? BigInt64Array.from(offsets, (o) => BigInt(o)) : offsets;
    const data = new Data(this.type, 0, values.length, this.nulls, [valueOffsets, bytes, nullBitmap] as never);
    this.values = [];
    this.nulls = 0;
    return data;
  }
}
