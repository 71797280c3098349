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
