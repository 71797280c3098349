import { existsSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureDirectory, probeWritable } from '../../../src/api/durable-fs.js';
import { useTempDirs } from '../../helpers/jobs.js';

const tempDir = useTempDirs();

describe('ensureDirectory', () => {
  it('creates the directory and its missing parents, and accepts one that exists', async () => {
    const dir = join(tempDir(), 'a', 'b', 'c');
    await ensureDirectory(dir, { option: 'checkpoint.dir' });
    expect(statSync(dir).isDirectory()).toBe(true);
    await ensureDirectory(dir, { option: 'checkpoint.dir' });
  });

  it.each(['/proc/tideway-test/x', '/proc', '/sys/tideway-test', '/sys/kernel'])('refuses %s at once (Node\'s recursive mkdir spins forever under /proc)', async (path) => {
    await expect(ensureDirectory(path, { option: 'checkpoint.dir' })).rejects.toMatchObject({
      code: 'PATH_SYSTEM_DIRECTORY',
      message: expect.stringMatching(new RegExp(`^checkpoint\\.dir ${path}: .*kernel filesystem.*point checkpoint\\.dir at an ordinary directory`)),
      context: { option: 'checkpoint.dir' },
    });
  });

  it('refuses a path that reaches /proc through a symbolic link', async () => {
    const link = join(tempDir(), 'proc-link');
    symlinkSync('/proc/self', link);
    await expect(ensureDirectory(join(link, 'x', 'y'), { option: 'sink "file" path' })).rejects.toMatchObject({ code: 'PATH_SYSTEM_DIRECTORY' });
  });

  it('says which part is a file, for the path itself and for a parent', async () => {
    const root = tempDir();
    const file = join(root, 'file');
    writeFileSync(file, 'x');
    await expect(ensureDirectory(file, { option: 'checkpoint.dir' })).rejects.toMatchObject({
      code: 'PATH_NOT_DIRECTORY',
      message: expect.stringContaining(`checkpoint.dir ${file}: is a file, not a directory`),
      context: { path: file },
    });
    await expect(ensureDirectory(join(file, 'sub', 'dir'), { option: '--data-dir' })).rejects.toMatchObject({
      code: 'PATH_NOT_DIRECTORY',
      message: expect.stringContaining(`${file} is a file, so nothing can be created under it`),
      context: { path: file, option: '--data-dir' },
    });
    expect(existsSync(join(root, 'sub'))).toBe(false);
  });
});

describe('probeWritable', () => {
  it('creates and removes a probe in a writable directory and reports the error where it cannot', async () => {
    const dir = tempDir();
    expect(await probeWritable(dir)).toBeUndefined();
    expect(await probeWritable(join(dir, 'missing'))).toMatchObject({ code: 'ENOENT' });
    expect(await probeWritable('/sys/kernel')).toBeDefined();
  });
});
