/**
 * Row kinds of a change stream. A source that reads changes (CDC) sends each row's kind as a utf8 column
 * named `__row_kind` holding one of these names; a stream without that column holds inserts only.
 */
export const ROW_KIND_COLUMN = '__row_kind';

export const ROW_KINDS = ['INSERT', 'UPDATE_BEFORE', 'UPDATE_AFTER', 'DELETE'] as const;

export type RowKind = (typeof ROW_KINDS)[number];

/** The short forms Flink and SeaTunnel print (`+I`, `-U`, `+U`, `-D`), accepted as well as the names. */
const SHORT: Record<string, RowKind> = { '+I': 'INSERT', '-U': 'UPDATE_BEFORE', '+U': 'UPDATE_AFTER', '-D': 'DELETE' };

/** The kind a `__row_kind` value names (NULL is an insert), or undefined for a value that names none. */
export function rowKindOf(value: string | null): RowKind | undefined {
  if (value === null) return 'INSERT';
  if ((ROW_KINDS as readonly string[]).includes(value)) return value as RowKind;
  return SHORT[value];
}

const encoder = new TextEncoder();
const SPELLINGS: readonly (readonly [Uint8Array, RowKind])[] = [
  ...ROW_KINDS.map((kind) => [encoder.encode(kind), kind] as const),
  ...Object.entries(SHORT).map(([short, kind]) => [encoder.encode(short), kind] as const),
];

/**
 * `rowKindOf` for a value given as UTF-8 bytes `values[start, end)`, without decoding it to a string: a
 * change stream's `__row_kind` is read for every row.
 */
export function rowKindOfBytes(values: Uint8Array, start: number, end: number): RowKind | undefined {
  const length = end - start;
  next: for (const [bytes, kind] of SPELLINGS) {
    if (bytes.length !== length) continue;
    for (let i = 0; i < length; i++) if (values[start + i] !== bytes[i]) continue next;
    return kind;
  }
  return undefined;
}
