import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOssEmulator, type OssEmulator, type FaultHandle } from '../../connectors/oss/emulator/index.js';
import { tempDir } from '../helpers/jobs.js';
import { expectExactlyOnce } from '../helpers/output.js';
import { committedIds, listUploads, randomBucket } from '../unit/oss/helpers.js';

const CHILD = new URL('./oss-crash-child.ts', import.meta.url).pathname;

let emulator: OssEmulator;
beforeAll(async () => {
  emulator = await startOssEmulator();
});
afterAll(async () => {
  await emulator.close();
});

type Plan = { at: 'upload' | 'commit'; afterCommits: number };

interface Outcome {
  code: number | null;
  killed: boolean;
  /** An UploadPart request had reached the emulator and not been answered when the kill came. */
  duringUpload: boolean;
  duringCommit: boolean;
  output: string;
}

/**
 * Runs the child once. With a plan it is killed with SIGKILL after that many commits have ended: either
 * while a part upload is in flight (the emulator holds every part for a moment, so there is a window), or
 * 15 ms into the next commit, between two completes.
 */
function runChild(env: Record<string, string>, uploads: FaultHandle, bucket: string, plan: Plan | undefined): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let killed = false;
    let duringUpload = false;
    let duringCommit = false;
    let inCommit = false;
    let commitsEnded = 0;
    let poll: NodeJS.Timeout | undefined;
    const inFlight = () => uploads.fired - emulator.journal.count({ op: 'UploadPart', bucket });
    const kill = () => {
      if (killed || child.exitCode !== null) return;
      killed = true;
      duringCommit = inCommit;
      duringUpload = inFlight() > 0;
      child.kill('SIGKILL');
    };
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('COMMIT-START')) {
          inCommit = true;
          if (plan?.at === 'commit' && commitsEnded >= plan.afterCommits) setTimeout(kill, 15);
        } else if (line.startsWith('COMMIT-END')) {
          inCommit = false;
          commitsEnded++;
          if (plan?.at === 'upload' && commitsEnded === plan.afterCommits) {
            poll = setInterval(() => {
              if (!inCommit && inFlight() > 0) kill();
            }, 2);
          }
        }
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => {
      if (poll) clearInterval(poll);
      resolve({ code, killed, duringUpload, duringCommit, output });
    });
  });
}

describe('oss sink: crash (SIGKILL) during upload and during commit, then resume', () => {
  it('holds every row exactly once and leaves no multipart upload', async () => {
    const bucket = randomBucket();
    await emulator.storage.createBucket(bucket);
    // Every part waits a little at the emulator, so that a kill can land while one is in flight.
    const uploads = emulator.addFault({ bucket, op: 'UploadPart', action: { kind: 'delay', ms: 40 } });
    const checkpoints = tempDir('tideway-oss-crash-');
    const [credential] = emulator.credentials;
    const rows = 4000;
    const env = {
      OSS_CRASH_JOB: JSON.stringify({
        name: 'oss-crash',
        rows,
        endpoint: emulator.endpoint,
        bucket,
        accessKeyId: credential!.accessKeyId,
        accessKeySecret: credential!.accessKeySecret,
        path: 'crash',
        checkpoints: checkpoints.path,
        parallelism: 2,
        commitPauseMs: 8,
      }),
    };
    const plans: Plan[] = [
      { at: 'upload', afterCommits: 1 },
      { at: 'commit', afterCommits: 1 },
      { at: 'upload', afterCommits: 2 },
      { at: 'commit', afterCommits: 0 },
    ];
    try {
      let uploadKills = 0;
      let commitKills = 0;
      let finished: Outcome | undefined;
      for (let run = 0; run < plans.length + 4 && !finished; run++) {
        const outcome = await runChild(env, uploads, bucket, plans[run]);
        if (outcome.killed) {
          if (outcome.duringUpload) uploadKills++;
          if (outcome.duringCommit) commitKills++;
          continue;
        }
        expect(outcome.code, `the job failed after ${uploadKills + commitKills} kills:\n${outcome.output}`).toBe(0);
        finished = outcome;
      }
      console.log(`oss crash test: ${uploadKills} kills during an upload, ${commitKills} during a commit`);
      expect(finished).toBeDefined();
      // The last run resumed what the killed ones left: it did not start over.
      expect(finished!.output).toMatch(/"resumed":\d+/);
      expect(uploadKills).toBeGreaterThanOrEqual(2);
      expect(commitKills).toBeGreaterThanOrEqual(2);
      expect(expectExactlyOnce(await committedIds(emulator, bucket, 'crash/'), rows)).toBeUndefined();
      expect(await listUploads(emulator, bucket, 'crash/')).toEqual([]);
      expect(emulator.storage.uploads(bucket)).toEqual([]);
    } finally {
      uploads.remove();
      checkpoints.remove();
    }
  }, 120_000);
});
