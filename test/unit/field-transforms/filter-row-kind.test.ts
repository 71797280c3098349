import { Dictionary, Int32, Int64, Utf8 } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { filterRowKindConnector } from '../../../connectors/filter_row_kind/index.js';
import { ROW_KIND_COLUMN, rowKindOf } from '../../../connectors/filter_row_kind/row-kind.js';
import { batchFrom, collectingContext, optionIssues, recordingLogger, rowsOf, schemaError, transformOf } from './kit.js';

const changes = (kinds: (string | null)[]) =>
  batchFrom({
    id: { type: new Int64(), values: kinds.map((_, i) => BigInt(i)) },
    [ROW_KIND_COLUMN]: { type: new Utf8(), values: kinds },
  });

const ids = (batch: Parameters<typeof rowsOf>[0]) => rowsOf(batch).map((r) => r.id);

describe('filter_row_kind', () => {
  const kinds = ['INSERT', 'UPDATE_BEFORE', 'UPDATE_AFTER', 'DELETE', null, '+I', '-U', '+U', '-D'];

  it('include_kinds keeps only those kinds (NULL and +I are INSERT), and the __row_kind column stays', async () => {
    const t = await transformOf(filterRowKindConnector, { include_kinds: ['INSERT', 'UPDATE_AFTER'] });
    const batch = changes(kinds);
    expect(t.outputSchema(batch.schema)).toBe(batch.schema);
    const out = await t.apply(batch, collectingContext());
    expect(ids(out)).toEqual([0n, 2n, 4n, 5n, 7n]);
    expect(rowsOf(out).map((r) => r[ROW_KIND_COLUMN])).toEqual(['INSERT', 'UPDATE_AFTER', null, '+I', '+U']);
  });

  it('exclude_kinds drops those kinds', async () => {
    const t = await transformOf(filterRowKindConnector, { exclude_kinds: ['UPDATE_BEFORE', 'DELETE'] });
    const batch = changes(kinds);
    t.outputSchema(batch.schema);
    expect(ids(await t.apply(batch, collectingContext()))).toEqual([0n, 2n, 4n, 5n, 7n]);
    const deletes = await transformOf(filterRowKindConnector, { include_kinds: ['DELETE'] });
    deletes.outputSchema(batch.schema);
    expect(ids(await deletes.apply(batch, collectingContext()))).toEqual([3n, 8n]);
  });

  it('a value that is no row kind is rejected with its row index, not dropped silently', async () => {
    const t = await transformOf(filterRowKindConnector, { exclude_kinds: ['DELETE'] });
    const batch = changes(['INSERT', 'UPSERT', 'insert', 'DELETE', '']);
    t.outputSchema(batch.schema);
    const context = collectingContext();
    const out = await t.apply(batch, context);
    expect(context.rejected).toEqual([
      { row: 1, code: 'ROW_KIND_UNKNOWN', column: '__row_kind', message: '__row_kind is "UPSERT", which is not a row kind (INSERT, UPDATE_BEFORE, UPDATE_AFTER, DELETE, or +I, -U, +U, -D)' },
      { row: 2, code: 'ROW_KIND_UNKNOWN', column: '__row_kind', message: expect.stringContaining('"insert"') },
      { row: 4, code: 'ROW_KIND_UNKNOWN', column: '__row_kind', message: expect.stringContaining('is ""') },
    ]);
    expect(ids(out)).toEqual([0n]);
  });

  it('keeps the batch as it is when every row is kept, a zero-copy slice for one run, null when none is', async () => {
    const t = await transformOf(filterRowKindConnector, { include_kinds: ['INSERT'] });
    const all = changes(['INSERT', null]);
    t.outputSchema(all.schema);
    expect(await t.apply(all, collectingContext())).toBe(all);
    const run = changes(['DELETE', 'INSERT', 'INSERT', 'DELETE']);
    const out = (await t.apply(run, collectingContext()))!;
    expect(ids(out)).toEqual([1n, 2n]);
    expect(out.data.children[0]!.values.buffer).toBe(run.data.children[0]!.values.buffer);
    expect(await t.apply(changes(['DELETE']), collectingContext())).toBeNull();
  });

  it('without a __row_kind column every row is an INSERT: a no-op with a debug line, not an error', async () => {
    const logger = recordingLogger();
    const t = await transformOf(filterRowKindConnector, { exclude_kinds: ['DELETE'] }, logger);
    const batch = batchFrom({ id: { type: new Int64(), values: [1n, 2n] } });
    expect(t.outputSchema(batch.schema)).toBe(batch.schema);
    expect(logger.lines).toEqual([{ level: 'debug', message: 'filter_row_kind: the stream has no __row_kind column, so every row is an INSERT and this stage keeps every row' }]);
    expect(await t.apply(batch, collectingContext())).toBe(batch);

    const dropping = recordingLogger();
    const none = await transformOf(filterRowKindConnector, { include_kinds: ['DELETE'] }, dropping);
    none.outputSchema(batch.schema);
    expect(dropping.lines[0]!.message).toContain('drops every row');
    expect(await none.apply(batch, collectingContext())).toBeNull();
  });

  it('a __row_kind column that is not text is a check-time error', async () => {
    const t = await transformOf(filterRowKindConnector, { include_kinds: ['INSERT'] });
    const batch = batchFrom({ [ROW_KIND_COLUMN]: { type: new Int32(), values: [1] } });
    expect(schemaError(t, batch.schema)).toMatchObject({ code: 'FILTER_ROW_KIND_NOT_TEXT', option: '', message: expect.stringContaining('"__row_kind" is of type Int32') });
  });

  it('reads a dictionary-encoded or sliced __row_kind column the same way', async () => {
    const t = await transformOf(filterRowKindConnector, { include_kinds: ['DELETE', 'INSERT'] });
    const values = ['DELETE', 'UPDATE_AFTER', null, 'nope', '-D', 'INSERT'];
    const batch = batchFrom({ id: { type: new Int64(), values: values.map((_, i) => BigInt(i)) }, [ROW_KIND_COLUMN]: { type: new Dictionary(new Utf8(), new Int32()), values } });
    t.outputSchema(batch.schema);
    const context = collectingContext();
    expect(ids(await t.apply(batch, context))).toEqual([0n, 2n, 4n, 5n]);
    expect(context.rejected.map((r) => r.row)).toEqual([3]);
    const sliced = changes(values).slice(2, 6);
    const plain = collectingContext();
    expect(ids(await t.apply(sliced, plain))).toEqual([2n, 4n, 5n]);
    expect(plain.rejected.map((r) => [r.row, r.message.slice(0, 24)])).toEqual([[1, '__row_kind is "nope", wh']]);
  });

  it('rowKindOf', () => {
    expect(rowKindOf(null)).toBe('INSERT');
    expect(rowKindOf('-U')).toBe('UPDATE_BEFORE');
    expect(rowKindOf('Delete')).toBeUndefined();
  });

  it('validates its options: exactly one of include_kinds and exclude_kinds, known kinds', () => {
    expect(optionIssues(filterRowKindConnector, {})).toEqual(['transform[0].include_kinds: set include_kinds (the kinds to keep) or exclude_kinds (the kinds to drop)']);
    expect(optionIssues(filterRowKindConnector, { include_kinds: ['INSERT'], exclude_kinds: ['DELETE'] })).toEqual(['transform[0].exclude_kinds: set include_kinds or exclude_kinds, not both']);
    expect(optionIssues(filterRowKindConnector, { include_kinds: ['UPSERT'] })[0]).toMatch(/^transform\[0\]\.include_kinds\[0\]: .*INSERT/);
    expect(optionIssues(filterRowKindConnector, { include_kinds: [] })[0]).toMatch(/^transform\[0\]\.include_kinds: /);
  });
});
