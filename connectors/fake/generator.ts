import {
  Bool,
  Field,
  Float64,
  Int32,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  TimestampMillisecond,
  Utf8,
} from 'apache-arrow';

/** The fake source's schema: common types and a unique `id`. */
export const fakeSchema = new Schema([
  new Field('id', new Int64(), false),
  new Field('name', new Utf8(), false),
  new Field('category', new Utf8(), false),
  new Field('amount', new Float64(), false),
  new Field('quantity', new Int32(), true),
  new Field('active', new Bool(), false),
  new Field('created_at', new TimestampMillisecond(), false),
]);

const CATEGORIES = ['books', 'games', 'garden', 'kitchen', 'music', 'sports', 'toys', 'travel'];
const CATEGORY_BYTES = CATEGORIES.map((c) => Buffer.from(c));
const EPOCH_2026 = Date.UTC(2026, 0, 1);

/** A 32-bit mix of (seed, row): every value of a row is a pure function of both. */
function mix(seed: number, row: number, salt: number): number {
  let h = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(row + salt * 0x27d4eb2f, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The values of one row, for tests that recompute what the source must have produced. */
export function fakeRow(seed: number, id: number) {
  const h = mix(seed, id, 1);
  return {
    id: BigInt(id),
    name: `customer-${id}`,
    category: CATEGORIES[h % CATEGORIES.length]!,
    amount: (mix(seed, id, 2) % 1_000_000) / 100,
    quantity: h % 11 === 0 ? null : (h >>> 8) % 100,
    active: (h & 1) === 1,
    created_at: EPOCH_2026 + (mix(seed, id, 3) % 31_536_000) * 1000,
  };
}

/**
 * Builds one batch of the rows whose ids are `first, first + stride, ...` (`count` of them), column by column
 * straight into Arrow buffers.
 */
export function generateBatch(seed: number, first: number, count: number, stride = 1): RecordBatch {
  const ids = new BigInt64Array(count);
  const amounts = new Float64Array(count);
  const quantities = new Int32Array(count);
  const quantityValid = new Uint8Array((count + 7) >> 3);
  const active = new Uint8Array((count + 7) >> 3);
  const created = new BigInt64Array(count);
  const nameOffsets = new Int32Array(count + 1);
  const categoryOffsets = new Int32Array(count + 1);
  const names: string[] = new Array(count);
  let categoryBytes = 0;
  const categoryIndex = new Uint8Array(count);
  let nullCount = 0;
  let nameLength = 0;
  for (let i = 0; i < count; i++) {
    const id = first + i * stride;
    const h = mix(seed, id, 1);
    ids[i] = BigInt(id);
    const name = `customer-${id}`;
    names[i] = name;
    nameLength += name.length;
    nameOffsets[i + 1] = nameLength;
    const c = h % CATEGORIES.length;
    categoryIndex[i] = c;
    categoryBytes += CATEGORY_BYTES[c]!.length;
    categoryOffsets[i + 1] = categoryBytes;
    amounts[i] = (mix(seed, id, 2) % 1_000_000) / 100;
    if (h % 11 === 0) nullCount++;
    else {
      quantities[i] = (h >>> 8) % 100;
      quantityValid[i >> 3]! |= 1 << (i & 7);
    }
    if ((h & 1) === 1) active[i >> 3]! |= 1 << (i & 7);
    created[i] = BigInt(EPOCH_2026 + (mix(seed, id, 3) % 31_536_000) * 1000);
  }
  const nameValues = Buffer.from(names.join(''), 'latin1');
  const categoryValues = new Uint8Array(categoryBytes);
  for (let i = 0, at = 0; i < count; i++) {
    const bytes = CATEGORY_BYTES[categoryIndex[i]!]!;
    categoryValues.set(bytes, at);
    at += bytes.length;
  }
  const [idF, nameF, catF, amountF, qtyF, activeF, createdF] = fakeSchema.fields as Field[];
  const children = [
    makeData({ type: idF!.type as Int64, length: count, data: ids }),
    makeData({ type: nameF!.type as Utf8, length: count, valueOffsets: nameOffsets, data: new Uint8Array(nameValues.buffer, nameValues.byteOffset, nameValues.byteLength) }),
    makeData({ type: catF!.type as Utf8, length: count, valueOffsets: categoryOffsets, data: categoryValues }),
    makeData({ type: amountF!.type as Float64, length: count, data: amounts }),
    makeData({ type: qtyF!.type as Int32, length: count, data: quantities, nullBitmap: quantityValid, nullCount }),
    makeData({ type: activeF!.type as Bool, length: count, data: active }),
    makeData({ type: createdF!.type as TimestampMillisecond, length: count, data: created as unknown as Int32Array }),
  ];
  return new RecordBatch(fakeSchema, makeData({ type: new Struct(fakeSchema.fields), length: count, nullCount: 0, children }));
}
