import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalString, authorization } from '../../../connectors/maxcompute/client/signing.js';
import { checkRequestAuth } from '../../../connectors/maxcompute/emulator/auth.js';
import { normalizePartitionSpec } from '../../../connectors/maxcompute/client/session.js';
import type { MaxComputeEmulator } from '../../../connectors/maxcompute/emulator/index.js';
import { TidewayError } from '../../../src/api/errors.js';
import { ALL_TYPES, ALL_TYPES_ROWS, clientOf, emulator, idsOf, idTable, plain, readAll } from './helpers.js';

describe('ODPS V2 signing', () => {
  const request = {
    method: 'GET',
    path: '/api/projects/p/tables/t',
    query: [
      ['rowrange', '(0,10)'],
      ['downloadid', 'abc'],
      ['data', ''],
    ] as [string, string][],
    headers: { date: 'Mon, 01 Jan 2024 00:00:00 GMT', 'x-odps-tunnel-version': '6', 'X-Odps-B': 'two', 'content-type': '' },
  };

  it('builds the canonical string: headers, sorted x-odps-*, base path stripped, sorted query', () => {
    expect(canonicalString(request, '/api')).toBe(
      'GET\n\n\nMon, 01 Jan 2024 00:00:00 GMT\nx-odps-b:two\nx-odps-tunnel-version:6\n/projects/p/tables/t?data&downloadid=abc&rowrange=(0,10)',
    );
  });

  it("the emulator accepts the client's signature and refuses a wrong secret, an unknown id, or a changed request", () => {
    const now = Date.parse(request.headers.date);
    const url = '/api/projects/p/tables/t?rowrange=%280%2C10%29&downloadid=abc&data';
    const signed = { ...request.headers, authorization: authorization('id1', 's3cret', request, '/api') };
    const check = (headers: Record<string, string>, secret: string | undefined, target = url) =>
      checkRequestAuth({ method: 'GET', url: target, headers }, { secretOf: (id) => (id === 'id1' ? secret : undefined), basePath: '/api', maxClockSkewMs: 900_000, now });
    expect(check(signed, 's3cret')).toEqual({ ok: true, accessId: 'id1' });
    expect(check(signed, 'other')).toMatchObject({ ok: false, status: 403, code: 'SignatureNotMatch' });
    expect(check(signed, undefined)).toMatchObject({ ok: false, status: 401, code: 'InvalidAccessKeyId' });
    expect(check(signed, 's3cret', url.replace('%2C10', '%2C11'))).toMatchObject({ ok: false, code: 'SignatureNotMatch' });
    expect(check(request.headers, 's3cret')).toMatchObject({ ok: false, status: 401, code: 'Unauthorized' });
  });
});

describe('partition specs', () => {
  it.each([
    ["ds='20240101'", 'ds=20240101'],
    ['ds="20240101"/region=hz', 'ds=20240101,region=hz'],
    [' ds = 1 , region = "a b" ', 'ds=1,region=a b'],
    ['', ''],
  ])('%s -> %s', (spec, wire) => {
    expect(normalizePartitionSpec(spec)).toBe(wire);
  });

  it('rejects a spec without key=value', () => {
    expect(() => normalizePartitionSpec('20240101')).toThrow(/key=value/);
  });
});

describe('Tunnel client against the emulator', () => {
  let emu: MaxComputeEmulator;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tideway-mc-'));
    writeFileSync(join(dir, 'people.csv'), 'id,name,born,tags\n1,"Smith, Anna",1990-01-02,"[""a""]"\n2,,,\n3,"say ""hi""",2000-12-31,[]\n');
    writeFileSync(join(dir, 'people.jsonl'), '{"id":"9007199254740993","name":"big","born":"1970-01-02","tags":["x","y"]}\n\n{"id":1}\n');
    const people = [
      { name: 'id', type: 'bigint' },
      { name: 'name', type: 'string' },
      { name: 'born', type: 'date' },
      { name: 'tags', type: 'array<string>' },
    ];
    emu = await emulator({
      baseDir: dir,
      sessionTtlMs: 60_000,
      asyncInitMs: 60,
      tables: [
        idTable('ids', 2500),
        { name: 'all_types', columns: ALL_TYPES, data: { rows: ALL_TYPES_ROWS } },
        { name: 'people_csv', columns: people, data: { csvFile: 'people.csv' } },
        { name: 'people_jsonl', columns: people, data: { jsonlFile: join(dir, 'people.jsonl') } },
        {
          name: 'sales',
          columns: [{ name: 'id', type: 'bigint' }],
          partitionKeys: [
            { name: 'ds', type: 'string' },
            { name: 'region', type: 'string' },
          ],
          partitions: {
            'ds=20240101,region=hz': { rows: [[1n], [2n]] },
            "ds='20240102',region='sh'": { rows: [[3n]] },
          },
        },
      ],
    });
  });

  afterAll(async () => {
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('discovers the tunnel endpoint and signs every request', async () => {
    const client = clientOf(emu);
    try {
      expect((await client.resolveTunnelEndpoint()).href).toBe(`${emu.tunnelEndpoint}/`);
      const session = await client.createDownloadSession('ids');
      expect(session).toMatchObject({ status: 'normal', recordCount: 2500, partition: '' });
      const { rows } = await readAll(client, session);
      expect(idsOf(rows)).toEqual(Array.from({ length: 2500 }, (_, i) => i));
      expect(rows[7]).toEqual({ id: 7n, name: 'row-7-1', score: 3.5 });
    } finally {
      client.close();
    }
  });

  it('answers a wrong secret with 403 and an unknown id with 401, and never echoes the secret', async () => {
    const wrong = clientOf(emu, { accessKey: 'not-the-key-XYZ', tunnelEndpoint: emu.tunnelEndpoint });
    const unknown = clientOf(emu, { accessId: 'nobody', tunnelEndpoint: emu.tunnelEndpoint });
    try {
      const error = await wrong.createDownloadSession('ids').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TidewayError);
      expect(error).toMatchObject({ code: 'MAXCOMPUTE_AUTH_FAILED', context: { status: 403, serverCode: 'SignatureNotMatch', connector: 'maxcompute' } });
      expect(JSON.stringify({ m: (error as Error).message, c: (error as TidewayError).context })).not.toContain('not-the-key-XYZ');
      await expect(unknown.createDownloadSession('ids')).rejects.toMatchObject({ code: 'MAXCOMPUTE_AUTH_FAILED', context: { status: 401 } });
      const last = emu.journal.at(-1)!;
      expect(last).toMatchObject({ action: 'create', status: 401, code: 'InvalidAccessKeyId' });
      expect(last.requestId).toMatch(/^[0-9a-f]{16}$/);
    } finally {
      wrong.close();
      unknown.close();
    }
  });

  it('puts x-odps-request-id and a JSON error body on every answer', async () => {
    const response = await new Promise<{ status: number; id: unknown; body: string }>((resolve, reject) => {
      http
        .get(`${emu.tunnelEndpoint}/projects/p/tables/ids?downloadid=x`, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, id: res.headers['x-odps-request-id'], body }));
        })
        .on('error', reject);
    });
    expect(response.status).toBe(401);
    expect(response.id).toMatch(/^[0-9a-f]{16}$/);
    expect(JSON.parse(response.body)).toMatchObject({ Code: 'Unauthorized' });
  });

  it('names the project, table or partition that does not exist', async () => {
    const client = clientOf(emu);
    const other = clientOf(emu, { project: 'nope' });
    try {
      await expect(other.createDownloadSession('ids')).rejects.toMatchObject({ code: 'MAXCOMPUTE_NO_SUCH_PROJECT', message: expect.stringContaining('"nope"') });
      await expect(client.createDownloadSession('missing')).rejects.toMatchObject({ code: 'MAXCOMPUTE_NO_SUCH_TABLE', message: expect.stringContaining('p.missing') });
      await expect(client.createDownloadSession('sales', { partition: 'ds=20990101,region=hz' })).rejects.toMatchObject({
        code: 'MAXCOMPUTE_NO_SUCH_PARTITION',
        message: expect.stringContaining('ds=20990101,region=hz'),
      });
      await expect(client.createDownloadSession('sales')).rejects.toMatchObject({ code: 'MAXCOMPUTE_NO_SUCH_PARTITION', message: expect.stringContaining('partitioned by ds, region') });
      await expect(client.createDownloadSession('ids', { partition: 'ds=1' })).rejects.toMatchObject({ code: 'MAXCOMPUTE_NO_SUCH_PARTITION' });
    } finally {
      client.close();
      other.close();
    }
  });

  it('reads one partition per session, with quotes in the spec accepted', async () => {
    const client = clientOf(emu);
    try {
      const hz = await client.createDownloadSession('sales', { partition: "ds='20240101',region='hz'" });
      const sh = await client.createDownloadSession('sales', { partition: 'ds=20240102/region=sh' });
      expect([hz.recordCount, sh.recordCount]).toEqual([2, 1]);
      expect(hz.partitionKeys.map((k) => k.name)).toEqual(['ds', 'region']);
      expect(idsOf((await readAll(client, hz)).rows)).toEqual([1, 2]);
      expect(idsOf((await readAll(client, sh)).rows)).toEqual([3]);
      expect(emu.journal.at(-1)).toMatchObject({ action: 'read', partition: 'ds=20240102,region=sh' });
    } finally {
      client.close();
    }
  });

  it('snapshots the table: a session keeps reading what existed when it was created', async () => {
    const client = clientOf(emu);
    try {
      emu.setTable(idTable('mutable', 100, 1));
      const before = await client.createDownloadSession('mutable');
      emu.setTable(idTable('mutable', 50, 2));
      const after = await client.createDownloadSession('mutable');
      expect([before.recordCount, after.recordCount]).toEqual([100, 50]);
      const old = await readAll(client, before);
      expect(old.rows).toHaveLength(100);
      expect(old.rows[60]!.name).toBe('row-60-1');
      expect((await readAll(client, after)).rows[10]!.name).toBe('row-10-2');
      const attached = await client.attachDownloadSession('mutable', before.id);
      expect(attached.recordCount).toBe(100);
      emu.dropTable('mutable');
      await expect(client.attachDownloadSession('mutable', before.id)).rejects.toMatchObject({ code: 'MAXCOMPUTE_NO_SUCH_TABLE' });
    } finally {
      client.close();
    }
  });

  it('polls an async session from initiating to normal with backoff', async () => {
    const client = clientOf(emu);
    try {
      emu.clearJournal();
      const session = await client.createDownloadSession('ids', { async: true });
      expect(session.status).toBe('normal');
      const actions = emu.journal.map((e) => e.action).filter((a) => a !== 'service');
      expect(actions[0]).toBe('create');
      expect(actions.filter((a) => a === 'reload').length).toBeGreaterThanOrEqual(1);
      expect(emu.journal.at(-1)!.elapsedMs).toBeLessThan(1000);
    } finally {
      client.close();
    }
  });

  it('reports an expired or unknown session as a retryable MAXCOMPUTE_SESSION_EXPIRED', async () => {
    const client = clientOf(emu);
    try {
      const session = await client.createDownloadSession('ids');
      emu.expireSession(session.id);
      const error = await readAll(client, session).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'MAXCOMPUTE_SESSION_EXPIRED', retryable: true, context: { sessionId: session.id } });
      expect(emu.journal.filter((e) => e.session === session.id && e.action === 'read')).toHaveLength(1);
      await expect(client.attachDownloadSession('ids', 'no-such-id')).rejects.toMatchObject({ code: 'MAXCOMPUTE_SESSION_EXPIRED' });
    } finally {
      client.close();
    }
  });

  it('expires sessions after their TTL', async () => {
    const short = await emulator({ sessionTtlMs: 40, tables: [idTable('ids', 10)] });
    const client = clientOf(short);
    try {
      const session = await client.createDownloadSession('ids');
      await new Promise((r) => setTimeout(r, 80));
      await expect(client.attachDownloadSession('ids', session.id)).rejects.toMatchObject({ code: 'MAXCOMPUTE_SESSION_EXPIRED' });
    } finally {
      client.close();
      await short.close();
    }
  });

  it('projects columns in the order asked, in both formats', async () => {
    const client = clientOf(emu);
    try {
      const session = await client.createDownloadSession('ids');
      for (const format of ['record', 'arrow'] as const) {
        const { batches, rows } = await readAll(client, session, { start: 5, count: 3, columns: ['SCORE', 'id'], format });
        expect(batches[0]!.schema.fields.map((f) => f.name)).toEqual(['score', 'id']);
        expect(rows).toEqual([
          { score: 2.5, id: 5n },
          { score: 3, id: 6n },
          { score: 3.5, id: 7n },
        ]);
      }
      expect(emu.journal.at(-1)).toMatchObject({ columns: ['score', 'id'], format: 'arrow' });
      expect(() => client.openReader(session, { start: 0, count: 1, columns: ['nope'] })).toThrow(/column "nope" is not in p.ids; its columns are id, name, score/);
    } finally {
      client.close();
    }
  });

  it('validates row ranges on both sides', async () => {
    const client = clientOf(emu);
    try {
      const session = await client.createDownloadSession('ids');
      expect(() => client.openReader(session, { start: 2400, count: 101 })).toThrow(/outside download session/);
      const forged = { ...session, recordCount: 10_000 };
      await expect(readAll(client, forged, { start: 2500, count: 1 })).rejects.toMatchObject({ code: 'MAXCOMPUTE_INVALID_ROW_RANGE', message: expect.stringContaining('RecordCount 2500') });
    } finally {
      client.close();
    }
  });

  it('serves every type identically in record and arrow format', async () => {
    const client = clientOf(emu);
    try {
      const session = await client.createDownloadSession('all_types');
      const record = await readAll(client, session, { format: 'record' });
      const arrow = await readAll(client, session, { format: 'arrow' });
      expect(record.rows).toHaveLength(3);
      expect(plain(arrow.rows)).toEqual(plain(record.rows));
    } finally {
      client.close();
    }
  });

  it('loads tables from CSV and JSONL fixtures', async () => {
    const client = clientOf(emu);
    try {
      const csv = await readAll(client, await client.createDownloadSession('people_csv'));
      expect(csv.rows).toEqual([
        { id: 1n, name: 'Smith, Anna', born: Date.UTC(1990, 0, 2), tags: expect.anything() },
        { id: 2n, name: null, born: null, tags: null },
        { id: 3n, name: 'say "hi"', born: Date.UTC(2000, 11, 31), tags: expect.anything() },
      ]);
      expect(plain(csv.rows)[0]).toMatchObject({ tags: ['a'] });
      const jsonl = await readAll(client, await client.createDownloadSession('people_jsonl'));
      expect(plain(jsonl.rows)).toEqual([
        { id: '9007199254740993n', name: 'big', born: 86_400_000, tags: ['x', 'y'] },
        { id: '1n', name: null, born: null, tags: null },
      ]);
    } finally {
      client.close();
    }
  });

  it('honours Accept-Encoding: deflate', async () => {
    const client = clientOf(emu, { compress: true });
    try {
      const session = await client.createDownloadSession('ids');
      const { rows } = await readAll(client, session, { format: 'arrow' });
      expect(idsOf(rows)).toHaveLength(2500);
      expect((await readAll(client, session)).rows).toHaveLength(2500);
    } finally {
      client.close();
    }
  });
});
