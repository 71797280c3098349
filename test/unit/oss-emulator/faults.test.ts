import { describe, expect, it } from 'vitest';
import type OSS from 'ali-oss';
import { type OssEmulator } from '../../../connectors/oss/emulator/index.js';
import { clientFor, pattern, rejectionOf, useEmulatorBed } from './helpers.js';

let emulator: OssEmulator;
let client: OSS;
let bucket: string;
useEmulatorBed((e, b, c) => {
  emulator = e;
  bucket = b;
  client = c;
});

describe('error faults', () => {
  it('surfaces 503 as ServiceUnavailableError, which ali-oss does not retry even with retryMax', async () => {
    const fault = emulator.addFault({ op: 'PutObject', times: 1, action: { kind: 'error', code: 'ServiceUnavailable' } });
    const retrying = clientFor(emulator, bucket, { retryMax: 3 });
    const error = await rejectionOf(retrying.put('f/503.txt', Buffer.from('x')));
    expect(error.name).toBe('ServiceUnavailableError');
    expect(error.status).toBe(503);
    expect(error.requestId).toMatch(/^[0-9A-F]{24}$/);
    expect(emulator.journal.count({ op: 'PutObject', key: 'f/503.txt' })).toBe(1);
    expect(emulator.storage.head(bucket, 'f/503.txt')).toBeUndefined();
    expect([fault.matched, fault.fired]).toEqual([1, 1]);
    await retrying.put('f/503.txt', Buffer.from('x'));
    expect([fault.matched, fault.fired]).toEqual([2, 1]);
  });

  it('injects 500 InternalError and a 403, and reaches HEAD through x-oss-err', async () => {
    await client.put('f/e.txt', Buffer.from('e'));
    emulator.addFault({ op: 'GetObject', times: 1, action: { kind: 'error', code: 'InternalError' } });
    emulator.addFault({ op: 'DeleteObject', times: 1, action: { kind: 'error', code: 'AccessDenied', status: 403 } });
    emulator.addFault({ op: 'HeadObject', times: 1, action: { kind: 'error', code: 'ServiceUnavailable' } });
    expect(await rejectionOf(client.get('f/e.txt'))).toMatchObject({ name: 'InternalErrorError', status: 500 });
    expect(await rejectionOf(client.delete('f/e.txt'))).toMatchObject({ name: 'AccessDeniedError', status: 403 });
    expect(await rejectionOf(client.head('f/e.txt'))).toMatchObject({ name: 'ServiceUnavailableError', code: 'ServiceUnavailable', status: 503 });
    expect(emulator.storage.head(bucket, 'f/e.txt')).toBeDefined();
  });

  it('targets the nth matching request: one part of a multipart upload fails', async () => {
    emulator.addFault({ op: 'UploadPart', nth: 2, action: { kind: 'error', code: 'InternalError' } });
    const error = await rejectionOf(client.multipartUpload('f/mp.bin', pattern(300 * 1024), { partSize: 100 * 1024, parallel: 2 }));
    const parts = emulator.journal.entries({ op: 'UploadPart', bucket });
    expect(parts).toHaveLength(3);
    const failed = parts.filter((p) => p.status === 500);
    expect(failed.map((p) => p.seq)).toEqual([[...parts].sort((a, b) => a.seq - b.seq)[1]?.seq]);
    const failedPart = Number(failed[0]?.query['partNumber']);
    expect(error.message).toContain(`Failed to upload some parts with error: InternalErrorError`);
    expect(error.message).toContain(`part_num: ${failedPart}`);
    // ali-oss leaves the failed upload behind: a sink must abort it itself.
    const [orphan] = emulator.storage.uploads(bucket);
    expect(orphan?.parts.map((p) => p.partNumber)).toEqual([1, 2, 3].filter((n) => n !== failedPart));
  });

  it('matches keys by glob: * stays within a segment, ** crosses segments', async () => {
    emulator.addFault({ key: 'in/*.csv', action: { kind: 'error', code: 'ServiceUnavailable' } });
    emulator.addFault({ key: 'deep/**/x', action: { kind: 'error', code: 'InternalError' } });
    await expect(client.put('in/a.csv', Buffer.from('a'))).rejects.toMatchObject({ status: 503 });
    await client.put('in/sub/a.csv', Buffer.from('a'));
    await client.put('in/a.json', Buffer.from('a'));
    await expect(client.put('deep/1/2/x', Buffer.from('a'))).rejects.toMatchObject({ status: 500 });
    expect(emulator.storage.keys(bucket)).toEqual(['in/a.json', 'in/sub/a.csv']);
  });
});

describe('connection faults', () => {
  it('retries a connection reset when retryMax is set, and records every attempt', async () => {
    emulator.addFault({ op: 'PutObject', nth: [1, 2], action: { kind: 'reset' } });
    const retrying = clientFor(emulator, bucket, { retryMax: 3 });
    const put = await retrying.put('f/reset.txt', Buffer.from('third time'));
    expect(put.res.status).toBe(200);
    const attempts = emulator.journal.entries({ op: 'PutObject', key: 'f/reset.txt' });
    expect(attempts.map((a) => [a.outcome, a.status])).toEqual([
      ['reset', 0],
      ['reset', 0],
      ['complete', 200],
    ]);
  });

  it('fails on a reset without retryMax, as a network error (status -1)', async () => {
    emulator.addFault({ op: 'GetObject', times: 1, action: { kind: 'reset' } });
    await client.put('f/r.txt', Buffer.from('r'));
    const error = await rejectionOf(client.get('f/r.txt'));
    expect(error.status).toBe(-1);
    expect(error.name).toBe('ResponseError');
    expect(error.message).toContain('ECONNRESET');
  });

  it('applies the change before a reset with afterApply: the client fails, the object exists', async () => {
    emulator.addFault({ op: 'PutObject', times: 1, action: { kind: 'reset', afterApply: true } });
    const error = await rejectionOf(client.put('f/applied.txt', Buffer.from('landed')));
    expect(error.status).toBe(-1);
    expect((await emulator.storage.read(bucket, 'f/applied.txt'))?.toString()).toBe('landed');
  });

  it('delays before the headers: the response is late, or a short client timeout fires', async () => {
    await client.put('f/slow.txt', Buffer.from('s'));
    emulator.addFault({ op: 'GetObject', times: 1, action: { kind: 'delay', ms: 150 } });
    const started = Date.now();
    await client.get('f/slow.txt');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(emulator.journal.last({ op: 'GetObject', key: 'f/slow.txt' })?.ms).toBeGreaterThanOrEqual(140);

    emulator.addFault({ op: 'GetObject', times: 1, action: { kind: 'delay', ms: 400 } });
    const impatient = clientFor(emulator, bucket, { timeout: 100 });
    expect((await rejectionOf(impatient.get('f/slow.txt'))).name).toBe('ResponseTimeoutError');
  });

  it('resets after N body bytes: ali-oss rejects get() with a non-network error it does not retry', async () => {
    await client.put('f/big.bin', pattern(64 * 1024));
    emulator.addFault({ op: 'GetObject', times: 1, action: { kind: 'resetAfterBytes', bytes: 1000 } });
    const error = await rejectionOf(clientFor(emulator, bucket, { retryMax: 3 }).get('f/big.bin'));
    expect(error.status).toBe(200);
    const entry = await emulator.journal.waitFor({ op: 'GetObject', key: 'f/big.bin', outcome: 'reset' });
    expect(entry).toMatchObject({ bytesOut: 1000, status: 200 });
    expect(emulator.journal.count({ op: 'GetObject', key: 'f/big.bin' })).toBe(1);
  });

  it('truncates a body under its full Content-Length: a stream reader sees an error after the short read', async () => {
    const data = pattern(64 * 1024);
    await client.put('f/short.bin', data);
    emulator.addFault({ op: 'GetObject', times: 1, action: { kind: 'truncate', bytes: 5000 } });
    const { stream, res } = await client.getStream('f/short.bin');
    expect((res.headers as Record<string, string>)['content-length']).toBe(String(data.length));
    let received = 0;
    const outcome = await new Promise<string>((resolve) => {
      stream.on('data', (chunk: Buffer) => (received += chunk.length));
      stream.on('error', (e: Error) => resolve(`error: ${e.message}`));
      stream.on('end', () => resolve('end'));
    });
    expect(outcome).toMatch(/^error/);
    expect(received).toBe(5000);
    expect(await emulator.journal.waitFor({ op: 'GetObject', key: 'f/short.bin', outcome: 'truncated' })).toMatchObject({ bytesOut: 5000 });
  });

  it('sends a slow body at about the configured rate', async () => {
    await client.put('f/trickle.bin', pattern(10_000));
    emulator.addFault({ op: 'GetObject', times: 1, action: { kind: 'slowBody', bytesPerSecond: 50_000 } });
    const started = Date.now();
    const got = await client.get('f/trickle.bin');
    expect((got.content as Buffer).length).toBe(10_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(180);
  });

  it('stops applying a removed rule and refuses an inconsistent one', async () => {
    const handle = emulator.addFault({ op: 'PutObject', action: { kind: 'error', code: 'InternalError' } });
    await expect(client.put('f/rm.txt', Buffer.from('x'))).rejects.toMatchObject({ status: 500 });
    handle.remove();
    await client.put('f/rm.txt', Buffer.from('x'));
    expect(() => emulator.addFault({ nth: 1, times: 1, action: { kind: 'reset' } })).toThrow(/either nth or times/);
  });
});
