import { describe, expect, it } from 'vitest';
import { builtinConnectors } from '../../src/index.js';
import { fakeSource, fileSinkOutput, kitSeeds, type KitSubject, runFailureAndResume } from '../../src/testing/connector-kit.js';
import { rangeSourceConnector } from '../../src/testing/range-source.js';
import { useTempDirs } from '../helpers/jobs.js';

/**
 * The failure-and-resume suite over the engine itself: for each seed, a chain of at least three runs that
 * each fail in a seeded way (a reader throwing mid-split, prepareCommit or commit throwing, a slow checkpoint
 * save failing before or after it landed, a pipeline dying, a graceful stop), every one resumed, under a
 * transport that delays, duplicates and reorders every control message; then every id must be committed
 * exactly once and nothing staged left. One file per enumerator shape (fake's pull enumerator, a push and a
 * pull test enumerator), 100 seeds each, so that the files run in parallel.
 * Replay a seed: TIDEWAY_SEED=<seed> npx vitest run test/failure; more seeds: TIDEWAY_KIT_SEEDS=2000.
 */
export function engineFailureSuite(shape: 'fake' | 'push' | 'pull', firstSeed: number): void {
  describe(`failure and resume: engine, ${shape} enumerator`, () => {
    const dir = useTempDirs('tideway-failure-');
    const subject: KitSubject = {
      name: `engine (${shape} enumerator) -> file`,
      connectors: [...builtinConnectors, rangeSourceConnector],
      async setup(context) {
        const output = fileSinkOutput(`${context.workDir}/out`);
        if (shape === 'fake') return { ...fakeSource(context), ...output };
        return {
          source: [{ type: 'test-range', rows: context.rows, splits: context.splits, chunk_rows: context.chunkRows, enumerator: shape }],
          expectedIds: Array.from({ length: context.rows }, (_, i) => i),
          ...output,
        };
      },
    };

    it.each(kitSeeds(100, firstSeed))('seed %i', async (seed) => {
      const report = await runFailureAndResume(subject, seed, dir());
      if (report.problem || report.runs.length < 4) console.error(`failing seed ${seed}:\n${report.describe()}`);
      expect(report.problem, report.describe()).toBeUndefined();
      // At least three faulty runs, each resumed by the next, then the run that finishes.
      expect(report.runs.length).toBeGreaterThanOrEqual(4);
    });
  });
}
