import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ConnectorDefinition } from '../../../src/api/connector.js';
import { silentLogger } from '../../../src/api/logger.js';
import type { Sink, SinkContext } from '../../../src/api/sink.js';
import { type CheckpointStore, LocalCheckpointStore } from '../../../src/engine/checkpoint-store.js';
import { builtinConnectors, ConnectorRegistry, runJob } from '../../../src/index.js';
import { useTempDirs } from '../../helpers/jobs.js';

const dir = useTempDirs();

/** The file connector, noting the epoch each coordinator-side sink context carries (prepare, committer). */
function recordingFile(seen: { call: string; epoch: number | undefined }[]): ConnectorDefinition {
  const file = builtinConnectors.find((c) => c.name === 'file')!;
  return {
    ...file,
    sink: {
      options: file.sink!.options,
      async create(options, context) {
        const sink = (await file.sink!.create(options, context)) as Sink;
        return {
          ...sink,
          prepare: async (ctx: SinkContext) => {
            seen.push({ call: 'prepare', epoch: ctx.epoch });
            return sink.prepare?.(ctx);
          },
          createWriter: sink.createWriter.bind(sink),
          createCommitter: async (ctx: SinkContext) => {
            seen.push({ call: 'createCommitter', epoch: ctx.epoch });
            return sink.createCommitter(ctx);
          },
        } as Sink;
      },
    },
  };
}

describe('the checkpoint store\'s fencing epoch reaches the sink', () => {
  const job = (checkpoints: string, out: string) => ({
    env: { name: 'epoch', parallelism: 1, transport: 'in-process' as const, checkpoint: { dir: checkpoints } },
    source: [{ type: 'fake', rows: 10 }],
    sink: [{ type: 'file', path: out, format: 'jsonl' }],
  });

  it('a store with an epoch (the cluster\'s) gives it to prepare and the committer', async () => {
    const checkpoints = dir();
    const local = new LocalCheckpointStore(checkpoints, 'epoch');
    const store: CheckpointStore = {
      location: local.location,
      epoch: 42,
      latest: () => local.latest(),
      save: (data) => local.save(data),
      retain: (keep) => local.retain(keep),
      clear: () => local.clear(),
      lock: () => local.lock(),
    };
    const seen: { call: string; epoch: number | undefined }[] = [];
    const registry = new ConnectorRegistry([...builtinConnectors.filter((c) => c.name !== 'file'), recordingFile(seen)]);
    const result = await runJob(job(checkpoints, join(dir(), 'out')), { registry, logger: silentLogger, checkpointStore: store });
    expect(result.error).toBeNull();
    expect(seen).toEqual([
      { call: 'prepare', epoch: 42 },
      { call: 'createCommitter', epoch: 42 },
    ]);
  });

  it('a local store has none', async () => {
    const seen: { call: string; epoch: number | undefined }[] = [];
    const registry = new ConnectorRegistry([...builtinConnectors.filter((c) => c.name !== 'file'), recordingFile(seen)]);
    const result = await runJob(job(dir(), join(dir(), 'out')), { registry, logger: silentLogger });
    expect(result.error).toBeNull();
    expect(seen.map((s) => s.epoch)).toEqual([undefined, undefined]);
  });
});
