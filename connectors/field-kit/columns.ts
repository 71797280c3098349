import type { Field, Schema } from 'apache-arrow';
import { TidewayError } from '../../src/api/errors.js';
import { didYouMean, z } from '../../src/api/options.js';
import { describeType, isText } from './text.js';

/**
 * The check-time column errors of the field transforms, one shape for all of them: what the stage names,
 * which option names it (the key path `tideway check` reports), a did-you-mean, and the stream's columns.
 */
export class ColumnCheck {
  private readonly names: string[];

  /**
   * @param connector the transform's name, as in messages (`rename names column ...`)
   * @param code the prefix of its error codes, e.g. `RENAME` gives RENAME_UNKNOWN_COLUMN
   */
  constructor(
    private readonly connector: string,
    private readonly code: string,
    private readonly input: Schema,
  ) {
    this.names = input.fields.map((f) => f.name);
  }

  /** The index and field of an input column the option at `option` names; throws UNKNOWN_COLUMN when missing. */
  column(name: string, option: string): { index: number; field: Field } {
    const index = this.names.indexOf(name);
    if (index >= 0) return { index, field: this.input.fields[index]! };
    const hint = didYouMean(name, this.names);
    throw new TidewayError(
      `${this.code}_UNKNOWN_COLUMN`,
      `${this.connector} names column "${name}", which the stream does not have${hint ? `; did you mean "${hint}"?` : ''} (columns: ${this.names.join(', ')})`,
      { context: { connector: this.connector, option } },
    );
  }

  /** Like `column`, and the column must hold text (utf8); throws NOT_TEXT naming its type otherwise. */
  textColumn(name: string, option: string): { index: number; field: Field } {
    const found = this.column(name, option);
    if (!isText(found.field.type)) {
      throw new TidewayError(
        `${this.code}_NOT_TEXT`,
        `${this.connector} needs a text (utf8) column, but "${name}" is ${describeType(found.field.type)}; convert it to text first or name a text column`,
        { context: { connector: this.connector, option } },
      );
    }
    return found;
  }

  /**
   * Checks that the output columns are unique. Each comes from an option (`option`, its key path) or is an
   * input column passed on (no option). A name given twice throws DUPLICATE_COLUMN at the option among the
   * two that names it (the later one when both do).
   */
  unique(columns: readonly { name: string; option?: string | undefined }[]): void {
    const seen = new Map<string, string | undefined>();
    const label = (name: string, option: string | undefined) => option ?? `the input column "${name}"`;
    for (const { name, option } of columns) {
      if (!seen.has(name)) {
        seen.set(name, option);
        continue;
      }
      const first = seen.get(name);
      throw new TidewayError(
        `${this.code}_DUPLICATE_COLUMN`,
        `${this.connector} would output two columns named "${name}" (${label(name, first)} and ${label(name, option)}); choose another name, or drop or rename the other column first`,
        { context: { connector: this.connector, option: option ?? first ?? '' } },
      );
    }
  }
}

/** An option mapping column names to column names (`{old: new}`, `{new: source}`), with at least one entry. */
export function columnMap(empty: string, description: string) {
  return z
    .record(z.string().min(1), z.string().min(1))
    .refine((map) => Object.keys(map).length > 0, { message: empty })
    .meta({ description });
}
