import { Int64, Utf8 } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { copyConnector } from '../../../connectors/copy/index.js';
import { replaceConnector } from '../../../connectors/replace/index.js';
import { batchFrom, optionIssues, rowsOf, schemaError, transformOf } from './kit.js';

const input = () =>
  batchFrom({
    id: { type: new Int64(), values: [1n, 2n], nullable: false },
    name: { type: new Utf8(), values: ['a-b', null] },
  });

describe('copy', () => {
  it('adds copies after the existing columns, sharing the source data, with the source type and nullability', async () => {
    const batch = input();
    const t = await transformOf(copyConnector, { fields: { name_raw: 'name', key: 'id' } });
    const schema = t.outputSchema(batch.schema);
    expect(schema.fields.map((f) => [f.name, String(f.type), f.nullable])).toEqual([
      ['id', 'Int64', false],
      ['name', 'Utf8', true],
      ['name_raw', 'Utf8', true],
      ['key', 'Int64', false],
    ]);
    const out = (await t.apply(batch, { reject: () => undefined }))!;
    expect(out.data.children[2]).toBe(batch.data.children[1]);
    expect(rowsOf(out)).toEqual([
      { id: 1n, name: 'a-b', name_raw: 'a-b', key: 1n },
      { id: 2n, name: null, name_raw: null, key: 2n },
    ]);
  });

  it('a later change to the copy leaves the original as it was', async () => {
    const batch = input();
    const copy = await transformOf(copyConnector, { fields: { name_raw: 'name' } });
    const replace = await transformOf(replaceConnector, { replace_field: 'name', pattern: '-', replacement: '+' });
    replace.outputSchema(copy.outputSchema(batch.schema));
    const out = await replace.apply((await copy.apply(batch, { reject: () => undefined }))!, { reject: () => undefined });
    expect(rowsOf(out)).toEqual([
      { id: 1n, name: 'a+b', name_raw: 'a-b' },
      { id: 2n, name: null, name_raw: null },
    ]);
  });

  it('names an unknown source at fields.<new> and refuses a new name the stream has', async () => {
    const unknown = await transformOf(copyConnector, { fields: { n2: 'nam' } });
    expect(schemaError(unknown, input().schema)).toMatchObject({ code: 'COPY_UNKNOWN_COLUMN', option: 'fields.n2', message: expect.stringContaining('did you mean "name"?') });
    const clash = await transformOf(copyConnector, { fields: { id: 'name' } });
    expect(schemaError(clash, input().schema)).toMatchObject({ code: 'COPY_DUPLICATE_COLUMN', option: 'fields.id' });
  });

  it('validates its options', () => {
    expect(optionIssues(copyConnector, {})).toEqual(['transform[0].fields: required option "fields" is missing']);
    expect(optionIssues(copyConnector, { fields: {} })).toEqual(['transform[0].fields: name at least one column to copy: {new: source}']);
  });
});
