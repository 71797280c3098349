import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorization } from '../../../connectors/maxcompute/client/signing.js';
import { RecordStreamDecoder } from '../../../connectors/maxcompute/codec/record-reader.js';
import type { MaxComputeEmulator } from '../../../connectors/maxcompute/emulator/index.js';
import { clientOf, emulator, ID_TABLE_COLUMNS, idsOf, idTable, readAll } from './helpers.js';

/** Sends one request signed as a client would, with the headers given (lower-case names). */
async function rawRequest(
  emu: MaxComputeEmulator,
  method: 'GET' | 'POST',
  path: string,
  query: [string, string][],
  headers: Record<string, string>,
  secret = emu.accessKey,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const all: Record<string, string> = { date: new Date().toUTCString(), ...headers };
  all.authorization = authorization(emu.accessId, secret, { method, path, query, headers: all });
  const search = query.map(([k, v]) => (v === '' ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)).join('&');
  return new Promise((resolve, reject) => {
    const req = http.request(`${emu.tunnelEndpoint}${path}?${search}`, { method, headers: all }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('tunnel version 6: the metrics section', () => {
  let emu: MaxComputeEmulator;
  beforeAll(async () => {
    emu = await emulator({ tables: [idTable('ids', 2500)] });
  });
  afterAll(() => emu.close());

  it('reads record streams from a service that appends metrics for version-6 clients', async () => {
    const client = clientOf(emu);
    try {
      const session = await client.createDownloadSession('ids');
      const { rows } = await readAll(client, session, { format: 'record' });
      expect(idsOf(rows)).toEqual(Array.from({ length: 2500 }, (_, i) => i));
      const read = emu.journal.filter((e) => e.action === 'read');
      expect(read.length).toBeGreaterThan(0);
      for (const entry of read) expect(entry).toMatchObject({ tunnelVersion: 6, outcome: 'ok' });
    } finally {
      client.close();
    }
  });

  it('the emulator sends the metrics section to version 6 and not to version 5', async () => {
    const client = clientOf(emu);
    try {
      const session = await client.createDownloadSession('ids');
      const read = (version: string) =>
        rawRequest(emu, 'GET', '/projects/p/tables/ids', [['data', ''], ['downloadid', session.id], ['rowrange', '(10,25)']], { 'x-odps-tunnel-version': version });
      const decode = (body: Buffer) => {
        const decoder = new RecordStreamDecoder(ID_TABLE_COLUMNS);
        decoder.push(body);
        decoder.decode(100);
        decoder.end();
        return decoder;
      };
      const v6 = await read('6');
      expect(v6.status).toBe(200);
      const withMetrics = decode(v6.body);
      expect(withMetrics.batchRows).toBe(25);
      expect(JSON.parse(withMetrics.metrics!)).toMatchObject({ rows: 25 });
      // The metrics end tag (33554176 << 3, as a varint) sits between the count and the checksum tags.
      const body = v6.body;
      const countAt = body.lastIndexOf(Buffer.from([0xf0, 0xff, 0xff, 0x7f]));
      const metricsEndAt = body.lastIndexOf(Buffer.from([0x80, 0xf0, 0xff, 0x7f]));
      const checksumAt = body.lastIndexOf(Buffer.from([0xf8, 0xff, 0xff, 0x7f]));
      expect(countAt).toBeGreaterThan(0);
      expect(metricsEndAt).toBeGreaterThan(countAt);
      expect(checksumAt).toBeGreaterThan(metricsEndAt);
      const v5 = await read('5');
      expect(v5.status).toBe(200);
      expect(decode(v5.body).metrics).toBeUndefined();
      expect(v5.body.lastIndexOf(Buffer.from([0x80, 0xf0, 0xff, 0x7f]))).toBe(-1);
    } finally {
      client.close();
    }
  });
});
