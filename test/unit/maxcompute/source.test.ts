import type { RecordBatch } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxcompute } from '../../../connectors/maxcompute/index.js';
import type { MaxComputeSourceOptions } from '../../../connectors/maxcompute/options.js';
import type { MaxComputeEnumeratorState, MaxComputeSource, MaxComputeSplit } from '../../../connectors/maxcompute/source.js';
import { DEMO_ORDER_PARTITIONS, mix } from '../../../connectors/maxcompute/emulator/demo.js';
import type { MaxComputeEmulator } from '../../../connectors/maxcompute/emulator/index.js';
import type { FactoryContext } from '../../../src/api/connector.js';
import type { Json } from '../../../src/api/json.js';
import { silentLogger } from '../../../src/api/logger.js';
import { describeOptions, parseOptions } from '../../../src/api/options.js';
import { batchToRows } from '../../../src/api/rows.js';
import type { PollStatus, SourceReader, SourceReaderContext, SplitEnumerator, SplitEnumeratorContext } from '../../../src/api/source.js';
import { emulator, idsOf, idTable } from './helpers.js';

const factoryContext: FactoryContext = { jobName: 'test', mode: 'batch', parallelism: 2, logger: silentLogger, baseDir: process.cwd() };

/** Parses options through the connector's schema, as the engine does. */
function optionsOf(raw: Record<string, unknown>): MaxComputeSourceOptions {
  const parsed = parseOptions(maxcompute.source!.options, raw, 'source[0]');
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.value as MaxComputeSourceOptions;
}

async function sourceOf(raw: Record<string, unknown>): Promise<MaxComputeSource> {
  return (await maxcompute.source!.create(optionsOf(raw) as never, factoryContext)) as unknown as MaxComputeSource;
}

/** An enumerator context that records what the enumerator said. */
function enumeratorContext() {
  const assigned: { reader: number; split: MaxComputeSplit }[] = [];
  const noMore: number[] = [];
  const context: SplitEnumeratorContext<MaxComputeSplit> = {
    parallelism: 2,
    jobName: 'test',
    logger: silentLogger,
    signal: new AbortController().signal,
    registeredReaders: () => new Set([0, 1]),
    assignSplit: (reader, splits) => splits.forEach((split) => assigned.push({ reader, split })),
    signalNoMoreSplits: (reader) => noMore.push(reader),
    sendEventToReader: () => {},
  };
  return { context, assigned, noMore };
}

function readerContext(prepared: Json | undefined, consumed: string[] = []) {
  let requests = 0;
  const context: SourceReaderContext = {
    readerId: 0,
    parallelism: 1,
    jobName: 'test',
    logger: silentLogger,
    signal: new AbortController().signal,
    consumedSplitIds: new Set(consumed),
    prepared,
    sendSplitRequest: () => {
      requests++;
    },
    sendEventToEnumerator: () => {},
    wakeup: () => {},
  };
  return { context, requests: () => requests };
}

/** Polls until the reader waits or ends; returns the batches and the last status. */
async function drain(reader: SourceReader<MaxComputeSplit>, maxPolls = 1000): Promise<{ batches: RecordBatch[]; status: PollStatus }> {
  const batches: RecordBatch[] = [];
  const output = { emit: async (batch: RecordBatch) => void batches.push(batch) };
  for (let i = 0; i < maxPolls; i++) {
    const status = await reader.pollNext(output);
    if (status !== 'more') return { batches, status };
  }
  throw new Error('reader did not settle');
}

describe('maxcompute options', () => {
  it('requires a project and credentials unless the endpoint is embedded', () => {
    const parsed = parseOptions(maxcompute.source!.options, { endpoint: 'http://x/api', table_name: 't' }, 'source[0]');
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.issues.map((i) => i.path)).toEqual(['source[0].project', 'source[0].access_id', 'source[0].access_key']);
    expect(parseOptions(maxcompute.source!.options, { endpoint: 'embedded', table_name: 'orders' }, 'source[0]').ok).toBe(true);
    const bad = parseOptions(maxcompute.source!.options, { endpoint: 'service.example.com', table_name: 't', project: 'p', access_id: 'a', access_key: 'k', spilt_row: 5 }, 'source[0]');
    expect(!bad.ok && bad.issues.map((i) => i.message)).toEqual(['unknown option "spilt_row"; did you mean "split_row"?', expect.stringContaining('neither a URL')]);
  });

  it('documents every option and marks the key secret', () => {
    const docs = describeOptions(maxcompute.source!.options);
    expect(docs.every((d) => d.description.length > 10)).toBe(true);
    expect(docs.filter((d) => d.secret).map((d) => d.name)).toEqual(['access_key']);
    expect(docs.find((d) => d.name === 'split_row')).toMatchObject({ default: 10_000, required: false });
    expect(optionsOf({ endpoint: 'embedded', table_name: 'x', retry_backoff: '2s' }).retry_backoff).toBe(2000);
  });
});

describe('maxcompute enumerator and reader', () => {
  let emu: MaxComputeEmulator;
  let base: Record<string, unknown>;

  beforeAll(async () => {
    emu = await emulator({
      tables: [
        idTable('ids', 25_000),
        {
          name: 'parts',
          columns: [{ name: 'id', type: 'bigint' }],
          partitionKeys: [{ name: 'ds', type: 'string' }],
          partitions: { 'ds=1': { rowCount: 3, row: (i) => [BigInt(i)] }, 'ds=2': { rowCount: 4, row: (i) => [BigInt(100 + i)] } },
        },
      ],
    });
    base = {
      endpoint: emu.endpoint,
      project: emu.project,
      access_id: emu.accessId,
      access_key: emu.accessKey,
      retry_backoff: 1,
      retry_max_backoff: 5,
    };
  });
  afterAll(async () => {
    await emu.close();
  });

  async function plan(raw: Record<string, unknown>) {
    const source = await sourceOf({ ...base, ...raw });
    const prepared = await source.prepare({ signal: new AbortController().signal });
    const schema = await source.schema({ signal: new AbortController().signal });
    const { context, assigned, noMore } = enumeratorContext();
    const enumerator = await source.createEnumerator(context);
    await enumerator.run();
    return { source, prepared, schema, enumerator, context, assigned, noMore };
  }

  it('plans one session per table and row-range splits, handed out one per request', async () => {
    emu.clearJournal();
    const { source, enumerator, assigned, noMore, schema } = await plan({ table_name: 'ids', split_row: 10_000 });
    try {
      expect(schema.fields.map((f) => f.name)).toEqual(['id', 'name', 'score']);
      for (let i = 0; i < 4; i++) await enumerator.handleSplitRequest(i % 2);
      expect(assigned.map((a) => [a.reader, a.split.start, a.split.count, a.split.offset])).toEqual([
        [0, 0, 10_000, 0],
        [1, 10_000, 10_000, 0],
        [0, 20_000, 5_000, 0],
      ]);
      expect(new Set(assigned.map((a) => a.split.sessionId)).size).toBe(1);
      expect(new Set(assigned.map((a) => a.split.splitId)).size).toBe(3);
      expect(noMore).toEqual([1]);
      expect(emu.journal.filter((e) => e.action === 'create')).toHaveLength(1);
      expect(enumerator.progress!()).toEqual({ totalRows: 25_000, totalSplits: 3 });
    } finally {
      await enumerator.close();
      await source.close();
    }
  });

  it('plans one session per partition', async () => {
    const { source, enumerator, assigned, noMore } = await plan({ table_name: 'parts', partition_spec: ["ds='1'", 'ds=2'], split_row: 2 });
    try {
      for (let i = 0; i < 5; i++) await enumerator.handleSplitRequest(0);
      expect(assigned.map((a) => `${a.split.partition}:${a.split.start}+${a.split.count}`)).toEqual(['ds=1:0+2', 'ds=1:2+1', 'ds=2:0+2', 'ds=2:2+2']);
      expect(new Set(assigned.map((a) => a.split.sessionId)).size).toBe(2);
      expect(noMore).toEqual([0]);
    } finally {
      await source.close();
    }
  });

  // An idle reader says 'waiting'; the engine's pipeline then asks the enumerator for work.
  it('reads splits in bounded chunks over one stream each, and waits when idle', async () => {
    const { source, prepared, enumerator, assigned } = await plan({ table_name: 'ids', split_row: 10_000, chunk_rows: 3_000 });
    const { context } = readerContext(prepared);
    const reader = await source.createReader(context);
    try {
      expect((await drain(reader)).status).toBe('waiting');
      await enumerator.handleSplitRequest(0);
      await enumerator.handleSplitRequest(0);
      emu.clearJournal();
      reader.addSplits(assigned.map((a) => a.split));
      const output: RecordBatch[] = [];
      const emit = { emit: async (b: RecordBatch) => void output.push(b) };
      expect(await reader.pollNext(emit)).toBe('more');
      const snapshot = reader.snapshotState(1);
      expect(snapshot.splits.map((s) => s.offset).sort()).toEqual([0, 3_000]);
      const { batches, status } = await drain(reader);
      expect(status).toBe('waiting');
      const ids = idsOf([...output, ...batches].flatMap((b) => batchToRows(b)));
      expect(ids.sort((a, b) => a - b)).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
      expect(Math.max(...[...output, ...batches].map((b) => b.numRows))).toBe(3_000);
      expect(emu.journal.filter((e) => e.action === 'read')).toHaveLength(2);
      expect(reader.snapshotState(2).consumed.sort()).toEqual(assigned.map((a) => a.split.splitId).sort());
      reader.handleNoMoreSplits();
      expect((await drain(reader)).status).toBe('end');
    } finally {
      await reader.close();
      await source.close();
    }
  });

  it('restores a split with an offset: a new reader resumes at start+offset, and a consumed split is never read again', async () => {
    const { source, prepared, enumerator, assigned } = await plan({ table_name: 'ids', split_row: 10_000, chunk_rows: 4_000 });
    await enumerator.handleSplitRequest(0);
    await enumerator.handleSplitRequest(0);
    const [first, second] = assigned.map((a) => a.split) as [MaxComputeSplit, MaxComputeSplit];
    const one = readerContext(prepared);
    const readerA = await source.createReader(one.context);
    readerA.addSplits([first]);
    const seen: RecordBatch[] = [];
    await readerA.pollNext({ emit: async (b) => void seen.push(b) });
    const snapshot = readerA.snapshotState(1);
    await readerA.close();
    expect(snapshot.splits).toEqual([{ ...first, offset: 4_000 }]);

    emu.clearJournal();
    const other = await sourceOf({ ...base, table_name: 'ids', chunk_rows: 4_000 });
    const two = readerContext(prepared, [second.splitId]);
    const readerB = await other.createReader(two.context);
    try {
      readerB.addSplits([...snapshot.splits, second]);
      readerB.handleNoMoreSplits();
      const { batches, status } = await drain(readerB);
      expect(status).toBe('end');
      const ids = idsOf([...seen, ...batches].flatMap((b) => batchToRows(b)));
      expect(ids).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
      const reads = emu.journal.filter((e) => e.action === 'read');
      expect(reads.map((e) => [e.start, e.count])).toEqual([[4_000, 6_000]]);
      expect(emu.journal.filter((e) => e.action === 'reload')).toHaveLength(1);
    } finally {
      await readerB.close();
      await other.close();
      await source.close();
    }
  });

  it('checkpoints as JSON, restores, and reassigns splits given back', async () => {
    const { source, enumerator, assigned } = await plan({ table_name: 'ids', split_row: 6_000 });
    await enumerator.handleSplitRequest(0);
    await enumerator.handleSplitRequest(1);
    const state = JSON.parse(JSON.stringify(await enumerator.snapshotState(1))) as MaxComputeEnumeratorState;
    expect(state.partitions[0]).toMatchObject({ nextStart: 12_000, recordCount: 25_000 });
    const restored = enumeratorContext();
    const again = (await source.restoreEnumerator(restored.context, state)) as SplitEnumerator<MaxComputeSplit, MaxComputeEnumeratorState>;
    await again.addSplitsBack([{ ...assigned[1]!.split, offset: 100 }], 1);
    await again.run();
    for (let i = 0; i < 6; i++) await again.handleSplitRequest(0);
    expect(restored.assigned.map((a) => [a.split.start, a.split.offset])).toEqual([
      [6_000, 100],
      [12_000, 0],
      [18_000, 0],
      [24_000, 0],
    ]);
    expect(restored.noMore.length).toBeGreaterThan(0);
    await source.close();
  });

  it.each([
    ['gone (NoSuchDownload)', undefined],
    ['answered with status EXPIRED', 'EXPIRED'],
    ['answered with status CLOSES', 'CLOSES'],
  ])('re-plans on a new session when an expired one, %s, had no rows read yet', async (_how, status) => {
    const { source, enumerator } = await plan({ table_name: 'ids', split_row: 10_000 });
    const state = await enumerator.snapshotState(1);
    const oldSession = state.partitions[0]!.sessionId;
    if (status === undefined) emu.expireSession(oldSession);
    else emu.setSessionStatus(oldSession, status);
    const restored = enumeratorContext();
    const again = await source.restoreEnumerator(restored.context, state);
    await again.run();
    for (let i = 0; i < 4; i++) await again.handleSplitRequest(0);
    expect(restored.assigned).toHaveLength(3);
    expect(restored.assigned.every((a) => a.split.sessionId !== oldSession)).toBe(true);
    expect(restored.assigned[0]!.split.splitId).toBe('ids#1@0');
    await source.close();
  });

  it('refuses to continue on a new snapshot once rows of the expired session were read', async () => {
    const { source, enumerator, assigned } = await plan({ table_name: 'ids', split_row: 10_000 });
    await enumerator.handleSplitRequest(0);
    const state = await enumerator.snapshotState(1);
    emu.expireSession(state.partitions[0]!.sessionId);
    const again = await source.restoreEnumerator(enumeratorContext().context, state);
    await again.addSplitsBack([{ ...assigned[0]!.split, offset: 10 }], 0);
    await expect(again.run()).rejects.toMatchObject({
      code: 'MAXCOMPUTE_SESSION_EXPIRED',
      message: expect.stringContaining('expired after 10 of its 25000 rows were read'),
    });
    await source.close();
  });

  it('names unknown read_columns and what the table has', async () => {
    const source = await sourceOf({ ...base, table_name: 'ids', read_columns: ['id', 'nmae'] });
    try {
      await expect(source.schema({ signal: new AbortController().signal })).rejects.toMatchObject({
        code: 'MAXCOMPUTE_INVALID_COLUMN',
        message: expect.stringContaining('"nmae", which is not in p.ids; its columns are id, name, score'),
      });
    } finally {
      await source.close();
    }
  });
});

describe('embedded demo project', () => {
  it('serves the demo tables, and readers without the planner reach its sessions', async () => {
    const planner = await sourceOf({ endpoint: 'embedded', table_name: 'orders', partition_spec: 'ds=20240102', split_row: 5_000, read_columns: ['order_id', 'status'] });
    const readerSide = await sourceOf({ endpoint: 'embedded', table_name: 'orders', partition_spec: 'ds=20240102', read_columns: ['order_id', 'status'] });
    try {
      const prepared = await planner.prepare({ signal: new AbortController().signal });
      expect(prepared).toMatchObject({ project: 'tideway_demo', endpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/api$/) });
      expect(JSON.stringify(prepared)).not.toContain('secret');
      const schema = await planner.schema({ signal: new AbortController().signal });
      expect(schema.fields.map((f) => `${f.name}:${String(f.type)}`)).toEqual(['order_id:Int64', 'status:Utf8']);
      const { context, assigned } = enumeratorContext();
      const enumerator = await planner.createEnumerator(context);
      await enumerator.run();
      await enumerator.handleSplitRequest(0);
      expect(enumerator.progress!().totalRows).toBe(DEMO_ORDER_PARTITIONS['ds=20240102']);
      // No `prepared`: the reader starts its own embedded emulator and attaches to the planner's session id.
      const reader = await readerSide.createReader(readerContext(undefined).context);
      reader.addSplits(assigned.map((a) => a.split));
      reader.handleNoMoreSplits();
      const { batches, status } = await drain(reader);
      expect(status).toBe('end');
      const rows = batches.flatMap((b) => batchToRows(b));
      expect(rows).toHaveLength(5_000);
      expect(rows[42]).toEqual({ order_id: 2_000_042n, status: ['created', 'paid', 'shipped', 'delivered', 'refunded'][mix(42, 2) % 5] });
      await reader.close();
    } finally {
      await planner.close();
      await readerSide.close();
    }
  });
});
