import {
  Data,
  type DataType,
  DataType as DT,
  makeVector,
  RecordBatch,
  type Schema,
  IntervalUnit,
  Struct,
  type TypeMap,
  vectorFromArray,
} from 'apache-arrow';

/**
 * The rows of `batch` at `rows` (in that order) as a new batch, copying buffers directly for the types
 * sinks meet most (numbers, booleans, dates, timestamps, decimals, strings, binary, dictionaries, structs)
 * and rebuilding other types value by value. arrow-js has no take kernel; a partitioned sink needs one to
 * route the rows of one batch to several files.
 */
export function takeRows(batch: RecordBatch, rows: Uint32Array): RecordBatch {
  const children = batch.data.children.map((child) => takeData(child, rows));
  const data = new Data(new Struct(batch.schema.fields), 0, rows.length, 0, undefined, children);
  return new RecordBatch(batch.schema as Schema<TypeMap>, data as Data<Struct<TypeMap>>);
}

function isValid(data: Data, row: number): boolean {
  const bitmap = data.nullBitmap;
  if (!bitmap || bitmap.byteLength === 0) return true;
  const bit = data.offset + row;
  return ((bitmap[bit >> 3]! >> (bit & 7)) & 1) === 1;
}

/** A validity bitmap for the taken rows, or undefined when none is null. */
function takeValidity(data: Data, rows: Uint32Array): { bitmap: Uint8Array | undefined; nullCount: number } {
  if (!data.nullBitmap || data.nullBitmap.byteLength === 0 || data.nullCount === 0) return { bitmap: undefined, nullCount: 0 };
  const bitmap = new Uint8Array(Math.ceil(rows.length / 8));
  let nullCount = 0;
  for (let i = 0; i < rows.length; i++) {
    if (isValid(data, rows[i]!)) bitmap[i >> 3]! |= 1 << (i & 7);
    else nullCount++;
  }
  return nullCount === 0 ? { bitmap: undefined, nullCount: 0 } : { bitmap, nullCount };
}

type TypedArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array | BigInt64Array | BigUint64Array;
type TypedArrayConstructor = new (length: number) => TypedArray;

/** Elements of the values array per row (arrow-js keeps its own `strideForType` private). */
function strideOf(type: DataType): number {
  if (DT.isDecimal(type)) return type.bitWidth / 32;
  if (DT.isFixedSizeBinary(type)) return type.byteWidth;
  if (DT.isInterval(type)) return type.unit === IntervalUnit.MONTH_DAY_NANO ? 4 : 1 + type.unit;
  return 1;
}

function isFixedWidth(type: DataType): boolean {
  return (
    DT.isInt(type) ||
    DT.isFloat(type) ||
    DT.isDate(type) ||
    DT.isTime(type) ||
    DT.isTimestamp(type) ||
    DT.isDecimal(type) ||
    DT.isInterval(type) ||
    DT.isDuration(type) ||
    DT.isFixedSizeBinary(type)
  );
}

function takeData(data: Data, rows: Uint32Array): Data {
  const type = data.type as DataType;
  const { bitmap, nullCount } = takeValidity(data, rows);
  if (isFixedWidth(type) && data.values) {
    const stride = strideOf(type);
    const source = data.values as unknown as TypedArray;
    const out = new (source.constructor as TypedArrayConstructor)(rows.length * stride);
    if (stride === 1) {
      for (let i = 0; i < rows.length; i++) out[i] = source[rows[i]!]!;
    } else {
      for (let i = 0; i < rows.length; i++) {
        const from = rows[i]! * stride;
        for (let k = 0; k < stride; k++) out[i * stride + k] = source[from + k]!;
      }
    }
    return new Data(type, 0, rows.length, nullCount, { [1]: out, [2]: bitmap } as never);
  }
  if (DT.isBool(type)) {
    const out = new Uint8Array(Math.ceil(rows.length / 8));
    const values = data.values as Uint8Array;
    for (let i = 0; i < rows.length; i++) {
      const bit = data.offset + rows[i]!;
      if ((values[bit >> 3]! >> (bit & 7)) & 1) out[i >> 3]! |= 1 << (i & 7);
    }
    return new Data(type, 0, rows.length, nullCount, { [1]: out, [2]: bitmap } as never);
  }
  if ((DT.isUtf8(type) || DT.isBinary(type)) && data.valueOffsets) {
    const offsets = data.valueOffsets as Int32Array;
    const values = data.values as Uint8Array;
    const outOffsets = new Int32Array(rows.length + 1);
    let total = 0;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      total += offsets[r + 1]! - offsets[r]!;
      outOffsets[i + 1] = total;
    }
    const out = new Uint8Array(total);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      out.set(values.subarray(offsets[r]!, offsets[r + 1]!), outOffsets[i]!);
    }
    return new Data(type, 0, rows.length, nullCount, { [0]: outOffsets, [1]: out, [2]: bitmap } as never);
  }
  if (DT.isDictionary(type) && data.values) {
    const source = data.values as unknown as TypedArray;
    const out = new (source.constructor as TypedArrayConstructor)(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = source[rows[i]!]!;
    return new Data(type, 0, rows.length, nullCount, { [1]: out, [2]: bitmap } as never, [], data.dictionary);
  }
  if (DT.isStruct(type)) {
    const children = data.children.map((child) => takeData(child, rows));
    return new Data(type, 0, rows.length, nullCount, { [2]: bitmap } as never, children);
  }
  if ((DT.isList(type) || DT.isMap(type) || DT.isLargeList(type)) && data.valueOffsets) {
    // The child is not sliced with its parent: offsets index it directly. Take each row's run of child rows.
    const offsets = data.valueOffsets as Int32Array | BigInt64Array;
    const at = (i: number) => Number(offsets[i]!);
    const outOffsets = new Int32Array(rows.length + 1);
    let total = 0;
    for (let i = 0; i < rows.length; i++) {
      total += at(rows[i]! + 1) - at(rows[i]!);
      outOffsets[i + 1] = total;
    }
    const childRows = new Uint32Array(total);
    for (let i = 0, k = 0; i < rows.length; i++) for (let c = at(rows[i]!); c < at(rows[i]! + 1); c++) childRows[k++] = c;
    const child = takeData(data.children[0]!, childRows);
    const large = DT.isLargeList(type);
    return new Data(type, 0, rows.length, nullCount, { [0]: large ? BigInt64Array.from(outOffsets, (o) => BigInt(o)) : outOffsets, [2]: bitmap } as never, [child]);
  }
  // Unions, views, fixed-size lists: value by value. Slower, and exact for these types' values.
  const vector = makeVector(data);
  const values = Array.from(rows, (r) => vector.get(r));
  return vectorFromArray(values, type).data[0]!;
}
