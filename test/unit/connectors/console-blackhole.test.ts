import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import { parseOptions } from '../../../src/api/options.js';
import type { Sink } from '../../../src/api/sink.js';
import { blackholeConnector } from '../../../connectors/blackhole/index.js';
import { consoleConnector } from '../../../connectors/console/index.js';
import { fakeSchema, generateBatch } from '../../../connectors/fake/generator.js';
import type { ConnectorDefinition } from '../../../src/api/connector.js';
import { createEncoder } from '../../../src/formats/encoder.js';

const context = { jobName: 'j', attemptId: 'a', sinkName: 's', parallelism: 1, logger: silentLogger, signal: new AbortController().signal, prepared: undefined, restoredCheckpointId: null, writerIndex: 0, schema: fakeSchema };

async function writerOf(connector: ConnectorDefinition, options: Record<string, unknown>) {
  const parsed = parseOptions(connector.sink!.options, options, 'sink[0]');
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  const sink = (await connector.sink!.create(parsed.value, { jobName: 'j', mode: 'batch', parallelism: 1, logger: silentLogger, baseDir: '.' })) as Sink;
  return sink.createWriter(context, undefined);
}

afterEach(() => vi.restoreAllMocks());

describe('console sink', () => {
  it('prints at most `limit` rows as JSON lines and counts the rest', async () => {
    const printed: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
    const writer = await writerOf(consoleConnector, { limit: 3 });
    await writer.write(generateBatch(1, 0, 2));
    await writer.write(generateBatch(1, 2, 5));
    const lines = printed.join('').trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[2]!).id).toBe(2);
    expect(writer.stats?.rowsWritten).toBe(7);
  });

  it('prints every value as the file sink writes it in JSON Lines: timestamps in ISO 8601, not epoch milliseconds', async () => {
    const printed: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
    const writer = await writerOf(consoleConnector, { limit: 0 });
    const batch = generateBatch(1, 0, 4);
    await writer.write(batch);
    const encoder = createEncoder('jsonl', batch.schema);
    const fileText = Buffer.concat([...encoder.encode(batch), ...encoder.finish()]).toString('utf8');
    expect(printed.join('')).toBe(fileText);
    expect((JSON.parse(printed.join('').split('\n')[0]!) as { created_at: unknown }).created_at).toMatch(/^2026-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}/);
  });
});

describe('blackhole sink', () => {
  it('counts rows and keeps none', async () => {
    const writer = await writerOf(blackholeConnector, {});
    await writer.write(generateBatch(1, 0, 10));
    await writer.write(generateBatch(1, 10, 5));
    expect(writer.stats?.rowsWritten).toBe(15);
    expect(await writer.prepareCommit(1)).toEqual([]);
  });
});
