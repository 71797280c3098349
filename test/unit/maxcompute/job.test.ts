import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RecordBatch } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxcompute } from '../../../connectors/maxcompute/index.js';
import type { MaxComputeEmulator } from '../../../connectors/maxcompute/emulator/index.js';
import { type ConnectorDefinition, defineSink } from '../../../src/api/connector.js';
import { silentLogger } from '../../../src/api/logger.js';
import { z } from '../../../src/api/options.js';
import { batchToRows } from '../../../src/api/rows.js';
import { directSink } from '../../../src/api/simple-sink.js';
import { builtinConnectors, ConnectorRegistry, runJob } from '../../../src/index.js';
import { emulator, idsOf, idTable } from './helpers.js';

/** Batches each `collect` sink received, by its `key` option (the in-process transport shares this module). */
const collected = new Map<string, RecordBatch[]>();
/** Called after every batch a `collect` sink receives, with the rows it received so far under its key. */
const afterWrite = new Map<string, (rows: number) => void | Promise<void>>();

const collect: ConnectorDefinition = {
  name: 'collect',
  description: 'test sink that keeps every batch in memory',
  sink: defineSink({
    options: z.object({ key: z.string() }),
    create: (options) =>
      directSink(() => ({
        write: async (batch: RecordBatch) => {
          const list = collected.get(options.key) ?? [];
          list.push(batch);
          collected.set(options.key, list);
          await afterWrite.get(options.key)?.(list.reduce((n, b) => n + b.numRows, 0));
        },
      })),
  }),
};

const registry = new ConnectorRegistry([...builtinConnectors.filter((c) => c.name !== 'maxcompute' && c.name !== 'collect'), maxcompute, collect]);

describe('a job reading MaxCompute through the engine', () => {
  let emu: MaxComputeEmulator;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tideway-mc-job-'));
    emu = await emulator({ tables: [idTable('ids', 30_000)], arrowBatchRows: 500 });
  });
  afterAll(async () => {
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const format of ['record', 'arrow'] as const) {
    it(`delivers every row exactly once through disconnects and 503s (${format}, parallelism 3)`, async () => {
      const key = `ids-${format}`;
      emu.clearFaults();
      emu.clearJournal();
      emu.addFault({ action: 'read', attempt: [2, 5], effect: { type: 'disconnect_after_rows', rows: 1_234 } });
      emu.addFault({ action: 'read', attempt: 3, effect: { type: 'http_error', status: 503 } });
      emu.addFault({ action: 'read', attempt: 6, effect: { type: 'crc_mismatch', afterRows: 10 } });
      const result = await runJob(
        {
          env: { name: `mc-${format}`, parallelism: 3, checkpoint: { interval: '100ms', dir } },
          source: [
            {
              type: 'maxcompute',
              endpoint: emu.endpoint,
              project: emu.project,
              access_id: emu.accessId,
              access_key: emu.accessKey,
              table_name: 'ids',
              split_row: 4_000,
              chunk_rows: 1_000,
              format,
              retry_backoff: '1ms',
              retry_max_backoff: '5ms',
            },
          ],
          sink: [{ type: 'collect', key }],
        },
        { registry, logger: silentLogger },
      );
      expect(result.error).toBeNull();
      expect(result.status).toBe('finished');
      expect(result.rowsRead).toBe(30_000);
      const ids = idsOf((collected.get(key) ?? []).flatMap((b) => batchToRows(b))).sort((a, b) => a - b);
      expect(ids).toEqual(Array.from({ length: 30_000 }, (_, i) => i));
      expect(emu.journal.some((e) => e.outcome === 'disconnected')).toBe(true);
      expect(new Set(emu.journal.filter((e) => e.action === 'read').map((e) => e.session)).size).toBe(1);
    });
  }

  it('resumes a stopped job from its checkpoint: split offsets carry over, and no row is read twice', async () => {
    const key = 'ids-resume';
    const job = {
      env: { name: 'mc-resume', parallelism: 2, checkpoint: { interval: '50ms', dir } },
      source: [
        {
          type: 'maxcompute',
          endpoint: emu.endpoint,
          project: emu.project,
          access_id: emu.accessId,
          access_key: emu.accessKey,
          table_name: 'ids',
          split_row: 9_000,
          chunk_rows: 500,
        },
      ],
      sink: [{ type: 'collect', key }],
    };
    emu.clearFaults();
    emu.clearJournal();
    const stop = new AbortController();
    afterWrite.set(key, async (rows) => {
      if (rows < 7_000) return;
      stop.abort();
      // Slow the writers down after the stop request so the readers (held back by the bounded queue) cannot
      // finish the table before the stop's barrier reaches them, however fast this machine reads.
      await new Promise((resolve) => setTimeout(resolve, 50));
    });
    const first = await runJob(job, { registry, logger: silentLogger, signal: stop.signal });
    afterWrite.delete(key);
    expect(first.status).toBe('cancelled');
    const before = (collected.get(key) ?? []).reduce((n, b) => n + b.numRows, 0);
    expect(before).toBeLessThan(30_000);
    const second = await runJob(job, { registry, logger: silentLogger });
    expect(second.status).toBe('finished');
    expect(second.resumedFromCheckpoint).not.toBeNull();
    const ids = idsOf((collected.get(key) ?? []).flatMap((b) => batchToRows(b))).sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: 30_000 }, (_, i) => i));
    // The resumed run continued a split part-way through it rather than from its start.
    const reads = emu.journal.filter((e) => e.action === 'read');
    expect(reads.some((e) => e.start! % 9_000 !== 0)).toBe(true);
  });

  it('fails the job with a clear authentication error that does not show the key', async () => {
    const result = await runJob(
      {
        env: { name: 'mc-missing', checkpoint: { dir } },
        source: [{ type: 'maxcompute', endpoint: emu.endpoint, project: emu.project, access_id: emu.accessId, access_key: 'wrong-key-123', table_name: 'ids' }],
        sink: [{ type: 'collect', key: 'missing' }],
      },
      { registry, logger: silentLogger },
    );
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'MAXCOMPUTE_AUTH_FAILED' });
    expect(result.error!.message).not.toContain('wrong-key-123');
  });
});
