import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type OSS from 'ali-oss';
import { startEmbeddedOss, startOssEmulator, OSS_EMULATOR_DEMO_CREDENTIALS } from '../../../connectors/oss/emulator/index.js';
import { clientFor, pattern, rejectionOf } from './helpers.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tideway-oss-emu-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function filesUnder(path: string): Promise<string[]> {
  const entries = await readdir(path, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('data-directory storage', () => {
  it('keeps objects, metadata and uploads in progress across an emulator restart', async () => {
    const first = await startOssEmulator({ storage: { dataDir: dir }, buckets: ['persist'] });
    let uploadId: string;
    let partEtag: string;
    const part = pattern(100 * 1024, 9);
    try {
      const client = clientFor(first, 'persist');
      await client.put('a b+c/中文.txt', Buffer.from('survives'), { meta: { run: 'r1' } as unknown as OSS.UserMeta });
      await client.put('overwritten.txt', Buffer.from('old'));
      await client.put('overwritten.txt', Buffer.from('new'));
      await client.put('deleted.txt', Buffer.from('gone'));
      await client.delete('deleted.txt');
      uploadId = (await client.initMultipartUpload('mp/after-restart.bin')).uploadId;
      partEtag = (await client.uploadPart('mp/after-restart.bin', uploadId, 1, part, 0, part.length)).etag;
    } finally {
      await first.close();
    }

    const second = await startOssEmulator({ storage: { dataDir: dir } });
    try {
      const client = clientFor(second, 'persist');
      const got = await client.get('a b+c/中文.txt');
      expect((got.content as Buffer).toString()).toBe('survives');
      expect(got.res.headers).toMatchObject({ 'x-oss-meta-run': 'r1', 'content-type': 'text/plain' });
      expect(((await client.get('overwritten.txt')).content as Buffer).toString()).toBe('new');
      expect((await client.list({ 'max-keys': 10 }, {})).objects.map((o) => o.name)).toEqual(['a b+c/中文.txt', 'overwritten.txt']);

      expect((await client.listUploads({}, {})).uploads.map((u) => u.uploadId)).toEqual([uploadId]);
      const tail = Buffer.from('tail');
      const tailEtag = (await client.uploadPart('mp/after-restart.bin', uploadId, 2, tail, 0, tail.length)).etag;
      await client.completeMultipartUpload('mp/after-restart.bin', uploadId, [
        { number: 1, etag: partEtag },
        { number: 2, etag: tailEtag },
      ]);
      const assembled = await second.storage.read('persist', 'mp/after-restart.bin');
      expect(assembled && Buffer.compare(assembled, Buffer.concat([part, tail]))).toBe(0);
    } finally {
      await second.close();
    }
    // Replaced, deleted and completed data leave no files behind.
    const dataFiles = (await filesUnder(join(dir, 'buckets'))).filter((f) => f.endsWith('.data'));
    expect(dataFiles).toHaveLength(3);
  });

  it('removes data files no record points at (an interrupted write) when it starts', async () => {
    const first = await startOssEmulator({ storage: { dataDir: dir }, buckets: ['orphans'] });
    await clientFor(first, 'orphans').put('kept.txt', Buffer.from('kept'));
    await first.close();
    const stray = join(dir, 'buckets', 'orphans', 'objects', '00', `${'0'.repeat(64)}.abcdef.data`);
    await mkdir(join(stray, '..'), { recursive: true });
    await writeFile(stray, 'half-written');

    const second = await startOssEmulator({ storage: { dataDir: dir } });
    try {
      expect(second.storage.keys('orphans')).toEqual(['kept.txt']);
      expect(await filesUnder(join(dir, 'buckets'))).not.toContain(stray);
    } finally {
      await second.close();
    }
  });

  it('refuses a second emulator on a directory in use, and a directory holding other files', async () => {
    const first = await startOssEmulator({ storage: { dataDir: dir } });
    try {
      const locked = await rejectionOf(startOssEmulator({ storage: { dataDir: dir } }));
      expect(locked).toMatchObject({ code: 'OSS_EMULATOR_DATA_DIR_LOCKED' });
      expect(locked.message).toContain(dir);
    } finally {
      await first.close();
    }
    const reopened = await startOssEmulator({ storage: { dataDir: dir } });
    await reopened.close();

    const foreign = join(dir, 'foreign');
    await mkdir(foreign);
    await writeFile(join(foreign, 'report.csv'), 'someone else');
    const refused = await rejectionOf(startOssEmulator({ storage: { dataDir: foreign } }));
    expect(refused).toMatchObject({ code: 'OSS_EMULATOR_DATA_DIR_FOREIGN' });
    expect(refused.message).toContain('report.csv');
  });

  it('reset() empties storage, the journal and the faults, and recreates pre-created buckets', async () => {
    const emulator = await startOssEmulator({ storage: { dataDir: dir }, buckets: ['kept'] });
    try {
      const client = clientFor(emulator, 'kept');
      await client.put('x.txt', Buffer.from('x'));
      await emulator.storage.createBucket('dropped');
      emulator.addFault({ op: 'GetObject', action: { kind: 'error', code: 'InternalError' } });
      await emulator.reset();
      expect(emulator.storage.buckets()).toEqual(['kept']);
      expect(emulator.storage.keys('kept')).toEqual([]);
      expect(emulator.journal.count()).toBe(0);
      await client.put('y.txt', Buffer.from('y'));
      expect(((await client.get('y.txt')).content as Buffer).toString()).toBe('y');
    } finally {
      await emulator.close();
    }
  });

  it('close() can be called twice and frees the port', async () => {
    const emulator = await startOssEmulator();
    await Promise.all([emulator.close(), emulator.close()]);
    await expect(fetch(`${emulator.endpoint}/`)).rejects.toThrow();
  });
});

describe('startEmbeddedOss', () => {
  it('uses the demo credentials, creates buckets on first use, and keeps data under dir', async () => {
    const embedded = await startEmbeddedOss({ dir });
    try {
      expect(embedded.connection).toMatchObject({ endpoint: embedded.endpoint, region: 'oss-cn-hangzhou', ...OSS_EMULATOR_DEMO_CREDENTIALS });
      const client = clientFor(embedded, 'job-output');
      await client.put('part-0.csv', Buffer.from('a,b\n'));
      expect(embedded.storage.buckets()).toEqual(['job-output']);
    } finally {
      await embedded.close();
    }
    const again = await startEmbeddedOss({ dir, buckets: ['other'] });
    try {
      expect((await again.storage.read('job-output', 'part-0.csv'))?.toString()).toBe('a,b\n');
      expect(again.storage.buckets()).toEqual(['job-output', 'other']);
    } finally {
      await again.close();
    }
  });
});
