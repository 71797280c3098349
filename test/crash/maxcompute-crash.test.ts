import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MaxComputeEmulator } from '../../connectors/maxcompute/emulator/index.js';
import { seededRandom } from '../../src/testing/random.js';
import { tempDir } from '../helpers/jobs.js';
import { emulator, idTable } from '../unit/maxcompute/helpers.js';
import { readIds, runChild, stagedFiles } from './support.js';

/**
 * The MaxCompute field case end to end: a job reading a table through the Tunnel protocol is killed with
 * SIGKILL in the middle of its splits (and of its commits), and rerun until it finishes. The emulator lives
 * in the test process, so its download session outlives every child; each rerun attaches to it and
 * resumes the splits from their checkpointed offsets.
 */
describe('maxcompute crash and resume (SIGKILL mid-split)', () => {
  const ROWS = 40_000;
  const SPLIT_ROW = 10_000;
  let emu: MaxComputeEmulator;

  beforeAll(async () => {
    // Slow reads down so that every split spans many checkpoints.
    emu = await emulator({ tables: [idTable('ids', ROWS)], latency: { firstByteMs: 40, bytesPerSecond: 150_000 } });
  });
  afterAll(async () => {
    await emu?.close();
  });

  it('every row once, no staged file left, and a resumed run that continued a split part-way', async () => {
    const seed = 4242;
    const random = seededRandom(seed);
    const out = tempDir('tideway-mc-crash-out-');
    const checkpoints = tempDir('tideway-mc-crash-ckpt-');
    const env = {
      CRASH_JOB: JSON.stringify({
        name: 'mc-crash',
        rows: ROWS,
        out: out.path,
        checkpoints: checkpoints.path,
        parallelism: 2,
        transport: 'in-process',
        format: 'jsonl',
        commitPauseMs: 20,
        source: {
          type: 'maxcompute',
          endpoint: emu.endpoint,
          project: emu.project,
          access_id: emu.accessId,
          access_key: emu.accessKey,
          table_name: 'ids',
          split_row: SPLIT_ROW,
          chunk_rows: 400,
        },
      }),
    };
    try {
      let kills = 0;
      let commitKills = 0;
      const wanted = 5;
      for (let run = 0; run < wanted + 10; run++) {
        const plan = kills < wanted ? { killAfterCommits: 2 + Math.floor(random() * 3), atCommit: random() < 0.4, gapMs: Math.floor(random() * 40) } : undefined;
        const result = await runChild(env, plan);
        if (process.env.DEBUG_CRASH) console.log(run, JSON.stringify(plan), result.killed, result.code, (result.output.match(/COMMIT-END/g) ?? []).length, result.output.split("\n").filter((l) => l.startsWith("RESULT")).join(""));
        if (result.killed) {
          kills++;
          if (result.duringCommit) commitKills++;
          continue;
        }
        expect(result.code, `the job failed after ${kills} kills (seed ${seed}):\n${result.output}`).toBe(0);
        break;
      }
      console.log(`maxcompute crash test seed ${seed}: ${kills} kills, ${commitKills} during a commit`);
      // A run that finishes before its planned kill ends the chain: how many kills land depends on the machine's
      // speed, so at least two (and a resume between them) must have.
      expect(kills).toBeGreaterThanOrEqual(2);
      const ids = readIds(out.path, 'jsonl').sort((a, b) => a - b);
      expect(ids.length).toBe(ROWS);
      expect(new Set(ids).size).toBe(ROWS);
      expect(ids[ROWS - 1]).toBe(ROWS - 1);
      expect(stagedFiles(out.path)).toEqual([]);
      const reads = emu.journal.filter((e) => e.action === 'read');
      // One download session for the whole job, across every run; and some read resumed inside a split.
      expect(new Set(reads.map((e) => e.session)).size).toBe(1);
      expect(reads.some((e) => e.start !== undefined && e.start % SPLIT_ROW !== 0)).toBe(true);
    } finally {
      out.remove();
      checkpoints.remove();
    }
  }, 240_000);
});
