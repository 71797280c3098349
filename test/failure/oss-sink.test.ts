import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOssEmulator, type OssEmulator } from '../../connectors/oss/emulator/index.js';
import { builtinConnectors } from '../../src/index.js';
import { fakeSource, kitSeeds, type KitSubject, runFailureAndResume } from '../../src/testing/connector-kit.js';
import { useTempDirs } from '../helpers/jobs.js';
import { committedIds, ossBlock, randomBucket } from '../unit/oss/helpers.js';

const FORMATS = ['jsonl', 'csv', 'parquet', 'arrow'] as const;

/**
 * The connector kit's failure-and-resume suite over the OSS sink: fake rows into the OSS emulator, one bucket
 * per seed, under the kit's chain of faulty runs, each resumed. The committed ids are read back from the
 * objects the sink completed (JSON Lines, CSV, Parquet or Arrow, from the seed); leftovers are the multipart
 * uploads still open under the prefix (the sink writes no staging objects). The sink keeps its defaults
 * (`data_save_mode: error`, a two-minute lease): a resume never applies the save mode, and a failed run
 * releases its lease, so every run of the chain must go on.
 * Replay a seed: TIDEWAY_SEED=<seed> npx vitest run test/failure/oss-sink.test.ts
 */
describe('connector kit: oss sink', () => {
  const dir = useTempDirs('tideway-oss-kit-');
  let emulator: OssEmulator;
  beforeAll(async () => {
    emulator = await startOssEmulator();
  });
  afterAll(async () => {
    await emulator.close();
  });

  const subject: KitSubject = {
    name: 'fake -> oss sink (emulator)',
    connectors: builtinConnectors,
    maxParallelism: 4,
    async setup(context) {
      const bucket = randomBucket();
      await emulator.storage.createBucket(bucket);
      const prefix = `kit/${context.unique}/`;
      const format = FORMATS[context.seed % FORMATS.length]!;
      return {
        ...fakeSource(context),
        sink: [ossBlock(emulator, bucket, prefix, { format })],
        committedIds: () => committedIds(emulator, bucket, prefix),
        leftovers: async () =>
          emulator.storage
            .uploads(bucket)
            .filter((u) => u.key.startsWith(prefix))
            .map((u) => `oss://${bucket}/${u.key} (multipart upload ${u.uploadId})`),
      };
    },
  };

  it.each(kitSeeds(16))('seed %i', async (seed) => {
    const report = await runFailureAndResume(subject, seed, dir());
    if (report.problem) console.error(`failing seed ${seed}:\n${report.describe()}`);
    expect(report.problem, report.describe()).toBeUndefined();
    expect(report.runs.length).toBeGreaterThanOrEqual(4);
  });
});
