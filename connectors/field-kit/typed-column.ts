import { type Data, Field } from 'apache-arrow';
import { z } from '../../src/api/options.js';
import { COLUMN_TYPE_HELP, columnType } from '../../src/formats/column-types.js';
import { type ColumnBuilder, makeColumnBuilder, ValueError } from '../../src/formats/text/text-to-arrow.js';

/** A column type option (`int64`, `decimal(12,2)`, `timestamptz`, ...), checked when the job is validated. */
export function columnTypeName() {
  return z.string().superRefine((name, ctx) => {
    if (columnType(name) === undefined) ctx.addIssue({ code: 'custom', message: `unknown column type "${name}"; use one of ${COLUMN_TYPE_HELP}` });
  });
}

/** The output field for a declared type name (already validated by `columnTypeName`); always nullable. */
export function typedField(name: string, typeName: string): Field {
  return new Field(name, columnType(typeName)!, true);
}

/**
 * One typed output column built row by row. A value that does not convert is appended as null and its
 * reason returned, so the caller can reject the row and keep the column aligned with the batch.
 */
export class TypedColumn {
  private readonly builder: ColumnBuilder;

  constructor(readonly field: Field) {
    this.builder = makeColumnBuilder(field);
  }

  /** Appends text (split parts); returns why it does not convert, or undefined. */
  appendText(text: string | null): string | undefined {
    return this.guard(() => this.builder.appendText(text));
  }

  /** Appends a parsed JSON value (undefined or null is null); returns why it does not convert, or undefined. */
  appendJson(value: unknown): string | undefined {
    return this.guard(() => this.builder.appendJson(value));
  }

  appendNull(): void {
    this.builder.appendJson(null);
  }

  finish(): Data {
    return this.builder.finish();
  }

  private guard(append: () => void): string | undefined {
    try {
      append();
      return undefined;
    } catch (error) {
      if (!(error instanceof ValueError)) throw error;
      // The builders check a value before storing anything, so a refused one leaves the column as it was.
      this.builder.appendJson(null);
      return error.message;
    }
  }
}
