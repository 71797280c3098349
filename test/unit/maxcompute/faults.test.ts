import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FaultEffect, MaxComputeEmulator } from '../../../connectors/maxcompute/emulator/index.js';
import { TidewayError } from '../../../src/api/errors.js';
import { clientOf, emulator, idsOf, idTable, readAll } from './helpers.js';

const ROWS = 8_000;

/** Every id of the range exactly once, in order. */
function expectExactlyOnce(ids: number[], start: number, count: number): void {
  expect(ids.length).toBe(count);
  expect(new Set(ids).size).toBe(count);
  ids.forEach((id, k) => {
    if (id !== start + k) expect.fail(`row ${k} has id ${id}, expected ${start + k}`);
  });
}

describe('recovery from service and network faults', () => {
  let emu: MaxComputeEmulator;

  beforeAll(async () => {
    emu = await emulator({ tables: [idTable('ids', ROWS)], arrowBatchRows: 1000, arrowChunkSize: 4096 });
  });
  afterAll(async () => {
    await emu.close();
  });
  afterEach(() => {
    emu.clearFaults();
    emu.clearJournal();
  });

  const midStream: [string, FaultEffect][] = [
    ['a disconnect after N rows', { type: 'disconnect_after_rows', rows: 1_333 }],
    ['a disconnect after N bytes', { type: 'disconnect_after_bytes', bytes: 30_001 }],
    ['an early end of a valid stream', { type: 'early_eof', rows: 1_500 }],
    ['a CRC mismatch', { type: 'crc_mismatch', afterRows: 2_000 }],
    ['a malformed record', { type: 'malformed_record', afterRows: 2_500 }],
  ];

  for (const format of ['record', 'arrow'] as const) {
    for (const [name, effect] of midStream) {
      it(`${format}: resumes after ${name} without duplicating or skipping a row`, async () => {
        emu.addFault({ action: 'read', table: 'ids', attempt: [1, 2], effect });
        const client = clientOf(emu);
        try {
          const session = await client.createDownloadSession('ids');
          const { rows } = await readAll(client, session, { start: 100, count: 6_000, format, batchRows: 700 });
          expectExactlyOnce(idsOf(rows), 100, 6_000);
          const reads = emu.journal.filter((e) => e.action === 'read');
          expect(reads.length).toBe(3);
          expect(reads[0]!.outcome).not.toBe('ok');
          // Every reopen starts at the first row not yet delivered, for the rest of the range.
          for (let i = 1; i < reads.length; i++) {
            expect(reads[i]!.start! + reads[i]!.count!).toBe(100 + 6_000);
            expect(reads[i]!.start!).toBeGreaterThanOrEqual(reads[i - 1]!.start!);
          }
          expect(reads.at(-1)!.outcome).toBe('ok');
        } finally {
          client.close();
        }
      });
    }
  }

  it('backs off on 500 and 503 and succeeds', async () => {
    emu.addFault({ action: 'create', attempt: 1, effect: { type: 'http_error', status: 500 } });
    emu.addFault({ action: 'read', attempt: [1, 2], effect: { type: 'http_error', status: 503 } });
    const client = clientOf(emu);
    try {
      const session = await client.createDownloadSession('ids');
      expectExactlyOnce(idsOf((await readAll(client, session, { count: 500 })).rows), 0, 500);
      expect(emu.journal.filter((e) => e.action === 'create').map((e) => e.status)).toEqual([500, 201]);
      expect(emu.journal.filter((e) => e.action === 'read').map((e) => e.status)).toEqual([503, 503, 200]);
    } finally {
      client.close();
    }
  });

  it('honours Retry-After on 429 FlowExceeded', async () => {
    emu.addFault({ action: 'read', attempt: 1, effect: { type: 'http_error', status: 429, retryAfterSeconds: 0.3 } });
    const client = clientOf(emu, { retry: { maxRetries: 3, baseDelayMs: 1, maxDelayMs: 5000 } });
    try {
      const session = await client.createDownloadSession('ids');
      const started = Date.now();
      expect((await readAll(client, session, { count: 10 })).rows).toHaveLength(10);
      expect(Date.now() - started).toBeGreaterThanOrEqual(280);
      expect(emu.journal.filter((e) => e.action === 'read').map((e) => [e.status, e.code ?? ''])).toEqual([
        [429, 'FlowExceeded'],
        [200, ''],
      ]);
    } finally {
      client.close();
    }
  });

  it('gives up with a clear error when a fault persists without progress', async () => {
    emu.addFault({ action: 'read', effect: { type: 'http_error', status: 503, message: 'down for maintenance' }, attempt: [1, 2, 3, 4, 5, 6] });
    const client = clientOf(emu, { retry: { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 2 } });
    try {
      const session = await client.createDownloadSession('ids');
      const error = (await readAll(client, session, { count: 10 }).catch((e: unknown) => e)) as TidewayError;
      expect(error).toBeInstanceOf(TidewayError);
      expect(error.code).toBe('MAXCOMPUTE_SERVER_ERROR');
      expect(error.message).toMatch(/down for maintenance.*Gave up after 3 attempts/s);
      expect(error.message).toContain('p.ids');
      expect(emu.journal.filter((e) => e.action === 'read')).toHaveLength(3);
    } finally {
      client.close();
    }
  });

  it('gives up when every attempt breaks at the same row, and reports corruption as such', async () => {
    emu.addFault({ action: 'read', attempt: [1, 2, 3, 4], effect: { type: 'crc_mismatch', afterRows: 0 } });
    const client = clientOf(emu, { retry: { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 2 } });
    try {
      const session = await client.createDownloadSession('ids');
      await expect(readAll(client, session, { count: 100 })).rejects.toMatchObject({ code: 'MAXCOMPUTE_CORRUPT_STREAM', message: expect.stringMatching(/CRC32C.*Gave up/s) });
    } finally {
      client.close();
    }
  });

  it('keeps going through repeated disconnects as long as each attempt makes progress', async () => {
    emu.addFault({ action: 'read', attempt: [1, 2, 3, 4, 5, 6, 7, 8], effect: { type: 'disconnect_after_rows', rows: 700 } });
    const client = clientOf(emu, { retry: { maxRetries: 1, baseDelayMs: 1, maxDelayMs: 2 } });
    try {
      const session = await client.createDownloadSession('ids');
      expectExactlyOnce(idsOf((await readAll(client, session)).rows), 0, ROWS);
      expect(emu.journal.filter((e) => e.outcome === 'disconnected')).toHaveLength(8);
    } finally {
      client.close();
    }
  });

  it('does not retry a session that expired mid-read: the planner must decide', async () => {
    const client = clientOf(emu);
    try {
      const session = await client.createDownloadSession('ids');
      emu.addFault({ action: 'read', attempt: 1, effect: { type: 'disconnect_after_rows', rows: 2000 } });
      emu.addFault({ action: 'read', attempt: 2, effect: { type: 'expire_session' } });
      await expect(readAll(client, session)).rejects.toMatchObject({ code: 'MAXCOMPUTE_SESSION_EXPIRED', retryable: true });
      expect(emu.journal.filter((e) => e.action === 'read').map((e) => e.status)).toEqual([200, 404]);
    } finally {
      client.close();
    }
  });

  it('abandons a connection silent for longer than the idle timeout and reads on a new one', async () => {
    emu.addFault({ action: 'read', attempt: 1, effect: { type: 'delay', ms: 2_000 } });
    const client = clientOf(emu, { idleTimeoutMs: 100 });
    try {
      const session = await client.createDownloadSession('ids');
      const started = Date.now();
      expectExactlyOnce(idsOf((await readAll(client, session, { count: 50 })).rows), 0, 50);
      expect(Date.now() - started).toBeLessThan(1_500);
    } finally {
      client.close();
    }
  });

  it('stops promptly when the caller aborts', async () => {
    const slow = await emulator({ tables: [idTable('ids', 1000)], latency: { bytesPerSecond: 10_000 } });
    const client = clientOf(slow);
    const abort = new AbortController();
    try {
      const session = await client.createDownloadSession('ids');
      setTimeout(() => abort.abort(new Error('stop')), 50);
      const reader = client.openReader(session, { start: 0, count: 1000, signal: abort.signal });
      const started = Date.now();
      const error = await reader.read(1000).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(Date.now() - started).toBeLessThan(1_500);
      await reader.close();
    } finally {
      client.close();
      await slow.close();
    }
  });
});
