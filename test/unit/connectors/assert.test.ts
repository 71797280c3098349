import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import { rowsToBatch } from '../../../src/api/rows.js';
import type { Sink } from '../../../src/api/sink.js';
import { parseOptions } from '../../../src/api/options.js';
import { assertConnector } from '../../../connectors/assert/index.js';
import { Field, Int64, Schema, Utf8 } from 'apache-arrow';

const schema = new Schema([new Field('id', new Int64(), true), new Field('name', new Utf8(), true)]);
const context = { jobName: 'j', attemptId: 'a', sinkName: 'assert', parallelism: 2, logger: silentLogger, signal: new AbortController().signal, prepared: undefined, restoredCheckpointId: null, schema, writerIndex: 0 };

async function sink(options: Record<string, unknown>): Promise<Sink> {
  const parsed = parseOptions(assertConnector.sink!.options, options, 'sink[0]');
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return (await assertConnector.sink!.create(parsed.value, { jobName: 'j', mode: 'batch', parallelism: 1, logger: silentLogger, baseDir: '.' })) as Sink;
}

const batch = (rows: { id: bigint | null; name: string | null }[]) => rowsToBatch(schema, rows);

describe('assert sink', () => {
  it.each([
    [{ fields: [{ name: 'id', not_null: true }] }, [{ id: null, name: 'a' }], 'fields[0] (id) broke: row 0 has a null id'],
    [{ fields: [{ name: 'id', min: 5 }] }, [{ id: 1n, name: 'a' }], 'id = 1 is below min 5'],
    [{ fields: [{ name: 'name', pattern: '^c-' }] }, [{ id: 1n, name: 'x' }], 'does not match /^c-/'],
    [{ fields: [{ name: 'name', values: ['a', 'b'] }] }, [{ id: 1n, name: 'z' }], 'is not one of a, b'],
    [{ fields: [{ name: 'id', unique: true }] }, [{ id: 1n, name: 'a' }, { id: 1n, name: 'b' }], 'id = 1 appears twice'],
    [{ fields: [{ name: 'nope' }] }, [{ id: 1n, name: 'a' }], 'column "nope" is missing'],
    [{ fields: [{ name: 'id', type: 'Utf8' }] }, [{ id: 1n, name: 'a' }], 'expected Utf8'],
  ])('rule %j fails on bad rows with a message naming it', async (options, rows, message) => {
    const writer = await (await sink(options)).createWriter(context, undefined);
    await expect(writer.write(batch(rows))).rejects.toMatchObject({ code: 'ASSERT_FAILED', message: expect.stringContaining(message) });
  });

  it('passes good rows', async () => {
    const writer = await (await sink({ fields: [{ name: 'id', not_null: true, unique: true, min: 0, max: 10 }] })).createWriter(context, undefined);
    await writer.write(batch([{ id: 0n, name: 'a' }, { id: 10n, name: 'b' }]));
    expect(writer.stats?.rowsWritten).toBe(2);
  });

  it('checks total rows and uniqueness across writers when input ends', async () => {
    const s = await sink({ rows: { equals: 3 }, fields: [{ name: 'id', unique: true }] });
    const w0 = await s.createWriter(context, undefined);
    const w1 = await s.createWriter({ ...context, writerIndex: 1 } as never, undefined);
    await w0.write(batch([{ id: 1n, name: 'a' }, { id: 2n, name: 'b' }]));
    await w1.write(batch([{ id: 2n, name: 'c' }]));
    const committer = await s.createCommitter(context);
    const writerStates = [await w0.snapshotState(1), await w1.snapshotState(1)];
    await expect(committer.commit([], { checkpointId: 1, endOfInput: false, writerStates })).resolves.toBeUndefined();
    await expect(committer.commit([], { checkpointId: 1, endOfInput: true, writerStates })).rejects.toThrow('id = 2 appears twice (in two writers)');
  });

  it('keeps its counts across a restore', async () => {
    const s = await sink({ rows: { equals: 2 } });
    const w = await s.createWriter(context, { rows: 1, unique: {} });
    await w.write(batch([{ id: 1n, name: 'a' }]));
    const committer = await s.createCommitter(context);
    await expect(committer.commit([], { checkpointId: 2, endOfInput: true, writerStates: [await w.snapshotState(2)] })).resolves.toBeUndefined();
  });
});
