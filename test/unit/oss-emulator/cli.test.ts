import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/api/errors.js';
import { parseOssEmulatorArgs, runOssEmulatorCli, type OssEmulator } from '../../../connectors/oss/emulator/index.js';
import { clientFor } from './helpers.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tideway-oss-cli-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

describe('tideway emulator oss', () => {
  it('starts with the given flags, prints JSON details without echoing a chosen secret, and stops on abort', async () => {
    const stdout = sink();
    const stderr = sink();
    const controller = new AbortController();
    let running: OssEmulator | undefined;
    const exit = runOssEmulatorCli(
      ['--data-dir', dir, '--access-key-id', 'cli-ak', '--access-key-secret', 'cli-secret', '--bucket', 'cli-bucket', '--json', '--log'],
      { stdout: stdout.stream, stderr: stderr.stream, signal: controller.signal },
      (emulator) => {
        running = emulator;
      },
    );
    await expect.poll(() => running).toBeDefined();
    const emulator = running as OssEmulator;
    await clientFor(emulator, 'cli-bucket').put('hello.txt', Buffer.from('hi'));

    const details = JSON.parse(stdout.text()) as Record<string, unknown>;
    expect(details).toMatchObject({ endpoint: emulator.endpoint, accessKeyId: 'cli-ak', storage: dir, buckets: ['cli-bucket'] });
    expect(stdout.text() + stderr.text()).not.toContain('cli-secret');
    expect(stderr.text()).toMatch(/PUT PutObject cli-bucket\/hello\.txt -> 200/);

    controller.abort();
    expect(await exit).toBe(0);
    expect(await readdir(dir)).not.toContain('emulator.lock');
  });

  it('reports every bad argument at once as a ConfigError', () => {
    let error: unknown;
    try {
      parseOssEmulatorArgs(['--port', 'eighty', '--route', 'sideways', '--access-key-id', 'only-id']);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.path)).toEqual(['--port', '--route', '--access-key-secret']);
    expect(() => parseOssEmulatorArgs(['--unknown'])).toThrow(ConfigError);
  });

  it('maps flags onto emulator options', () => {
    const parsed = parseOssEmulatorArgs(['--port', '9000', '--bucket', 'a', '--bucket', 'b', '--route', 'path', '--no-auth', '--min-part-size', '1024']);
    expect(parsed.options).toEqual({ port: 9000, buckets: ['a', 'b'], route: 'path', auth: false, minPartSize: 1024 });
  });
});
