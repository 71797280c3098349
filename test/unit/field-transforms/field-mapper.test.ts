import { Int32, Int64, Utf8 } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { fieldMapperConnector } from '../../../connectors/field_mapper/index.js';
import { batchFrom, optionIssues, rowsOf, schemaError, transformOf } from './kit.js';

const input = () =>
  batchFrom({
    id: { type: new Int64(), values: [1n, 2n, 3n], nullable: false },
    name: { type: new Utf8(), values: ['ä', null, '日本'] },
    qty: { type: new Int32(), values: [5, null, 7] },
  });

describe('field_mapper', () => {
  it('keeps only the listed columns, in the mapping order, renamed, sharing the input buffers', async () => {
    const batch = input();
    const t = await transformOf(fieldMapperConnector, { field_mapper: { qty: 'quantity', id: 'id' } });
    const schema = t.outputSchema(batch.schema);
    expect(schema.fields.map((f) => [f.name, String(f.type), f.nullable])).toEqual([
      ['quantity', 'Int32', true],
      ['id', 'Int64', false],
    ]);
    const out = (await t.apply(batch, { reject: () => undefined }))!;
    expect(rowsOf(out)).toEqual([
      { quantity: 5, id: 1n },
      { quantity: null, id: 2n },
      { quantity: 7, id: 3n },
    ]);
    expect(out.data.children[0]).toBe(batch.data.children[2]);
    expect(out.data.children[1]!.values).toBe(batch.data.children[0]!.values);
  });

  it('works on a sliced batch (offsets kept)', async () => {
    const batch = input().slice(1, 3);
    const t = await transformOf(fieldMapperConnector, { field_mapper: { name: 'n' } });
    t.outputSchema(batch.schema);
    expect(rowsOf((await t.apply(batch, { reject: () => undefined }))!)).toEqual([{ n: null }, { n: '日本' }]);
  });

  it('names an unknown column at its option, with a did-you-mean', async () => {
    const t = await transformOf(fieldMapperConnector, { field_mapper: { id: 'id', nmae: 'customer' } });
    const error = schemaError(t, input().schema);
    expect(error.code).toBe('FIELD_MAPPER_UNKNOWN_COLUMN');
    expect(error.option).toBe('field_mapper.nmae');
    expect(error.message).toContain('did you mean "name"?');
    expect(error.message).toContain('(columns: id, name, qty)');
  });

  it('refuses two outputs with one name', async () => {
    const t = await transformOf(fieldMapperConnector, { field_mapper: { id: 'key', name: 'key' } });
    const error = schemaError(t, input().schema);
    expect(error).toMatchObject({ code: 'FIELD_MAPPER_DUPLICATE_COLUMN', option: 'field_mapper.name' });
    expect(error.message).toContain('two columns named "key" (field_mapper.id and field_mapper.name)');
  });

  it('validates its options', () => {
    expect(optionIssues(fieldMapperConnector, {})).toEqual(['transform[0].field_mapper: required option "field_mapper" is missing']);
    expect(optionIssues(fieldMapperConnector, { field_mapper: {} })).toEqual(['transform[0].field_mapper: name at least one column: {old: new}']);
    expect(optionIssues(fieldMapperConnector, { field_mapper: { id: '' } })[0]).toMatch(/^transform\[0\]\.field_mapper\.id: /);
    expect(optionIssues(fieldMapperConnector, { field_mapper: { id: 'id' }, feild: 1 })).toEqual(['transform[0].feild: unknown option "feild"; known options: field_mapper']);
  });
});
