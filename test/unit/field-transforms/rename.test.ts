import { Float64, Int64, Utf8 } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { renameConnector } from '../../../connectors/rename/index.js';
import { batchFrom, optionIssues, rowsOf, schemaError, transformOf } from './kit.js';

const input = () =>
  batchFrom({
    id: { type: new Int64(), values: [1n, 2n] },
    name: { type: new Utf8(), values: ['x', null] },
    amount: { type: new Float64(), values: [1.5, 2.5] },
  });

describe('rename', () => {
  it('renames the listed columns and keeps every column in its place', async () => {
    const batch = input();
    const t = await transformOf(renameConnector, { fields: { amount: 'total', name: '名前' } });
    expect(t.outputSchema(batch.schema).fields.map((f) => f.name)).toEqual(['id', '名前', 'total']);
    const out = (await t.apply(batch, { reject: () => undefined }))!;
    expect(rowsOf(out)).toEqual([
      { id: 1n, 名前: 'x', total: 1.5 },
      { id: 2n, 名前: null, total: 2.5 },
    ]);
    expect(out.data.children.map((d) => d.values)).toEqual(batch.data.children.map((d) => d.values));
    expect(out.data.children[2]!.values).toBe(batch.data.children[2]!.values);
  });

  it('allows a swap but not a clash with a column that keeps its name', async () => {
    const swap = await transformOf(renameConnector, { fields: { id: 'name', name: 'id' } });
    expect(swap.outputSchema(input().schema).fields.map((f) => f.name)).toEqual(['name', 'id', 'amount']);
    const clash = await transformOf(renameConnector, { fields: { id: 'amount' } });
    const error = schemaError(clash, input().schema);
    expect(error.code).toBe('RENAME_DUPLICATE_COLUMN');
    // At the option that made the clash, though the column it clashes with comes later.
    expect(error.option).toBe('fields.id');
    expect(error.message).toContain('two columns named "amount" (fields.id and the input column "amount")');
  });

  it('names an unknown column at fields.<column>, with a did-you-mean', async () => {
    const t = await transformOf(renameConnector, { fields: { amuont: 'total' } });
    expect(schemaError(t, input().schema)).toMatchObject({ code: 'RENAME_UNKNOWN_COLUMN', option: 'fields.amuont', message: expect.stringContaining('did you mean "amount"?') });
  });

  it('validates its options', () => {
    expect(optionIssues(renameConnector, { fields: {} })).toEqual(['transform[0].fields: name at least one column to rename: {old: new}']);
    expect(optionIssues(renameConnector, { fields: { a: 3 } })[0]).toMatch(/^transform\[0\]\.fields\.a: expected string/);
  });
});
