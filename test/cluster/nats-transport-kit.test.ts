import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/api/logger.js';
import { JetStreamCheckpointStore } from '../../src/cluster/jetstream-checkpoint-store.js';
import { natsTransport } from '../../src/cluster/nats-transport.js';
import { ConnectorRegistry } from '../../src/engine/registry.js';
import { builtinConnectors } from '../../src/index.js';
import { fakeSource, fileSinkOutput, kitSeeds, type KitSubject, runFailureAndResume } from '../../src/testing/connector-kit.js';
import { useTempDirs } from '../helpers/jobs.js';
import { natsUp, startWorkers, useClusterPrefix } from './support.js';

/**
 * The engine's failure-and-resume kit with pipelines on cluster workers over NATS and checkpoints in
 * JetStream: every run of a seed fails in a seeded way (a reader throwing, prepareCommit or commit throwing,
 * a checkpoint save failing before or after it landed, a pipeline killed on its worker, a graceful stop)
 * under a transport that also delays, duplicates and reorders each NATS control message; the next run resumes
 * from the JetStream checkpoint. Every id committed once, nothing staged left.
 * Replay: TIDEWAY_SEED=<seed> npx vitest run test/cluster/nats-transport-kit.test.ts
 */
describe.skipIf(!natsUp)('failure and resume over the NATS transport and the JetStream checkpoint store', () => {
  const space = useClusterPrefix({ leaseTtlMs: 2000 });
  const dir = useTempDirs('tideway-cluster-kit-');
  // The workers build each run's pipelines from that run's registry (its connectors wrapped to inject faults).
  let registry = new ConnectorRegistry(builtinConnectors);
  let store: JetStreamCheckpointStore | undefined;
  let resumes = 0;
  const subject: KitSubject = {
    name: 'engine over NATS -> file',
    connectors: builtinConnectors,
    maxParallelism: 4,
    async setup(context) {
      // Paced, so that checkpoints (a NATS round trip each) complete between the injected failures.
      const { source, expectedIds } = fakeSource(context);
      return { source: source.map((s) => ({ ...s, rows_per_second: 6000 })), expectedIds, ...fileSinkOutput(`${context.workDir}/out`) };
    },
  };

  it.each(kitSeeds(6, 501))('seed %i', async (seed) => {
    const workers = await startWorkers(space.prefix, 2, 2, () => registry);
    try {
      const report = await runFailureAndResume(subject, seed, dir(), {
        transport: (runRegistry) => {
          registry = runRegistry;
          return natsTransport(space.cluster(), { logger: silentLogger, heartbeatTimeoutMs: 3000, lease: () => (store?.heldLease ? { key: store.heldLease.job, token: store.heldLease.value.token } : null) });
        },
        checkpointIntervalMs: 15,
        checkpointStore: (job) => (store = new JetStreamCheckpointStore(space.cluster(), job, silentLogger, { takeoverWaitMs: 0 })),
      });
      if (report.problem) console.error(`failing seed ${seed}:\n${report.describe()}`);
      expect(report.problem, report.describe()).toBeUndefined();
      expect(report.runs.length).toBeGreaterThanOrEqual(4);
      resumes += report.resumes;
    } finally {
      await workers.close();
    }
  }, 120_000);

  it('resumed from JetStream checkpoints in the seeds above (a run failing before its first checkpoint starts over)', () => {
    expect(resumes).toBeGreaterThanOrEqual(1);
  });
});
