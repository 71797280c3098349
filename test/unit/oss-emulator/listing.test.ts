import { describe, expect, it } from 'vitest';
import type OSS from 'ali-oss';
import { type OssEmulator } from '../../../connectors/oss/emulator/index.js';
import { rejectionOf, useEmulatorBed } from './helpers.js';

let emulator: OssEmulator;
let client: OSS;
let bucket: string;
useEmulatorBed((e, b, c) => {
  emulator = e;
  bucket = b;
  client = c;
});

async function seed(keys: readonly string[]): Promise<void> {
  for (const key of keys) await emulator.storage.write(bucket, key, key);
}

describe('ListObjects (V1)', () => {
  it('returns Owner on every entry (ali-oss list() reads it unconditionally)', async () => {
    await seed(['dir/a.json', 'dir/b.csv']);
    const result = await client.list({ prefix: 'dir/', 'max-keys': 10 }, {});
    expect(result.objects.map((o) => o.name)).toEqual(['dir/a.json', 'dir/b.csv']);
    for (const object of result.objects) {
      expect(object.owner).toEqual({ id: '1000000000000000', displayName: '1000000000000000' });
      expect(object.size).toBe(object.name.length);
      expect(object.etag).toMatch(/^"[0-9A-F]{32}"$/);
      expect(object.type).toBe('Normal');
    }
  });

  it('rolls keys up into CommonPrefixes with a delimiter and pages with NextMarker', async () => {
    await seed(['a/1', 'a/2', 'b/1', 'c', 'd/x/1', 'e']);
    const first = await client.list({ delimiter: '/', 'max-keys': 3 }, {});
    expect(first.prefixes).toEqual(['a/', 'b/']);
    expect(first.objects.map((o) => o.name)).toEqual(['c']);
    expect(first.isTruncated).toBe(true);
    expect(first.nextMarker).toBe('c');

    const second = await client.list({ delimiter: '/', 'max-keys': 3, marker: first.nextMarker ?? '' }, {});
    expect(second.prefixes).toEqual(['d/']);
    expect(second.objects.map((o) => o.name)).toEqual(['e']);
    expect(second.isTruncated).toBe(false);
    expect(second.nextMarker).toBeNull();
  });

  it('does not repeat a common prefix when a page ends on it', async () => {
    await seed(['a/1', 'a/2', 'a/3', 'b']);
    const first = await client.list({ delimiter: '/', 'max-keys': 1 }, {});
    expect(first.prefixes).toEqual(['a/']);
    expect(first.nextMarker).toBe('a/');
    const second = await client.list({ delimiter: '/', 'max-keys': 1, marker: 'a/' }, {});
    expect(second.prefixes).toBeNull();
    expect(second.objects.map((o) => o.name)).toEqual(['b']);
  });

  it('sorts by UTF-8 bytes, not by UTF-16 code units', async () => {
    // U+FF21 (3 UTF-8 bytes EF BC A1) sorts before U+1F600 (4 bytes F0 9F 98 80) in UTF-8, but after
    // it in UTF-16 (0xFF21 > 0xD83D). OSS orders by bytes.
    const keys = ['\u{1F600}.txt', '\uFF21.txt', 'Z.txt', 'a.txt'];
    await seed(keys);
    const result = await client.list({ 'max-keys': 10 }, {});
    expect(result.objects.map((o) => o.name)).toEqual(['Z.txt', 'a.txt', '\uFF21.txt', '\u{1F600}.txt']);
  });

  it('refuses max-keys above 1000 and truncates at 1000', async () => {
    const tooMany = await rejectionOf(client.list({ 'max-keys': 1001 }, {}));
    expect(tooMany.name).toBe('InvalidArgumentError');
    await seed(Array.from({ length: 1001 }, (_, i) => `k/${String(i).padStart(4, '0')}`));
    const page = await client.list({ 'max-keys': 1000 }, {});
    expect(page.objects).toHaveLength(1000);
    expect(page.isTruncated).toBe(true);
    expect(page.nextMarker).toBe('k/0999');
  });
});

describe('ListObjectsV2', () => {
  it('pages with continuation tokens and KeyCount until the listing ends', async () => {
    const keys = Array.from({ length: 7 }, (_, i) => `dir/${i}.txt`);
    await seed([...keys, 'other/x']);
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const query: Record<string, string> = { prefix: 'dir/', 'max-keys': '3' };
      if (token) query['continuation-token'] = token;
      const page = await client.listV2(query, {});
      pages++;
      expect(page.keyCount).toBe(page.objects.length);
      expect(page.objects.every((o) => o.owner === null)).toBe(true);
      seen.push(...page.objects.map((o) => o.name));
      token = page.nextContinuationToken ?? undefined;
      expect(page.isTruncated).toBe(token !== undefined);
    } while (token);
    expect(pages).toBe(3);
    expect(seen).toEqual(keys);
  });

  it('counts common prefixes in KeyCount, honours start-after and fetch-owner', async () => {
    await seed(['a/1', 'a/2', 'b', 'c/1', 'd']);
    const page = await client.listV2({ delimiter: '/', 'start-after': 'a/9', 'fetch-owner': true, 'max-keys': '10' }, {});
    expect(page.prefixes).toEqual(['c/']);
    expect(page.objects.map((o) => o.name)).toEqual(['b', 'd']);
    expect(page.keyCount).toBe(3);
    expect(page.objects[0]?.owner).toEqual({ id: '1000000000000000', displayName: '1000000000000000' });
  });

  it('refuses a forged continuation token', async () => {
    const error = await rejectionOf(client.listV2({ 'continuation-token': 'bm90LW91cnM' }, {}));
    expect(error.name).toBe('InvalidArgumentError');
  });
});
