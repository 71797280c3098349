import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { silentLogger } from '../../src/api/logger.js';
import { stderrLogger } from '../../src/engine/logger.js';
import { destroyCluster, openCluster } from '../../src/cluster/cluster-connection.js';
import type { CheckpointPointer } from '../../src/cluster/jetstream-checkpoint-store.js';
import type { WorkerInfo } from '../../src/cluster/protocol.js';
import { runClusterJob } from '../../src/cluster/run-cluster-job.js';
import { builtinConnectors, ConnectorRegistry } from '../../src/index.js';
import { tempDir } from '../helpers/jobs.js';
import { probeService } from '../helpers/services.js';
import { NATS_SERVER, requireNetns } from './netns-lab.js';
import { startWorkers } from './support.js';

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const unavailable = requireNetns('the network partition test');

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });

/**
 * A worker in its own network namespace, joined to the host by a veth pair, is cut off mid-job (the link goes
 * down: no reset, no close, its TCP connection just goes silent). The coordinator counts it lost after its
 * heartbeat timeout and resumes the job on the host's worker; the cut-off worker stops its own pipelines once it
 * has missed heartbeats for half that timeout, so none of them stages output after the new run's orphan sweep.
 */
describe.skipIf(unavailable !== undefined)('a worker partitioned from NATS (network namespace)', () => {
  it('the job finishes on the other worker, every id once, nothing staged left; the cut-off worker stops its pipelines', async () => {
    const tag = randomBytes(2).toString('hex');
    const ns = `tw${tag}`;
    const hostSide = `twh${tag}`;
    const nsSide = `twn${tag}`;
    const subnet = `10.213.${Number.parseInt(tag, 16) % 250}`;
    const port = 16_000 + Math.floor(Math.random() * 2000);
    const url = `nats://${subnet}.1:${port}`;
    const dir = tempDir('tideway-netns-');
    let server: ChildProcess | undefined;
    let nsWorker: ChildProcess | undefined;
    let nsOutput = '';
    const cleanups: (() => Promise<void> | void)[] = [];
    // Runs even when the test times out, so no namespace, link, server or worker outlives it.
    onTestFinished(async () => {
      nsWorker?.kill('SIGKILL');
      server?.kill('SIGTERM');
      for (const cleanup of cleanups) {
        try {
          await cleanup();
        } catch {
          // Each step runs; the namespace going takes its end of the veth pair with it.
        }
      }
      dir.remove();
    });
    {
      ip('netns', 'add', ns);
      cleanups.push(() => void ip('netns', 'del', ns));
      ip('link', 'add', hostSide, 'type', 'veth', 'peer', 'name', nsSide);
      cleanups.push(() => void execFileSync('ip', ['link', 'del', hostSide], { stdio: 'ignore' }));
      ip('link', 'set', nsSide, 'netns', ns);
      ip('addr', 'add', `${subnet}.1/30`, 'dev', hostSide);
      ip('link', 'set', hostSide, 'up');
      ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${subnet}.2/30`, 'dev', nsSide);
      ip('netns', 'exec', ns, 'ip', 'link', 'set', nsSide, 'up');
      ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');

      server = spawn(NATS_SERVER, ['-a', `${subnet}.1`, '-p', String(port), '-js', '-sd', join(dir.path, 'js')], { stdio: 'ignore' });
      for (let i = 0; i < 100 && !(await probeService(`${subnet}.1`, port, 200)).ok; i++) await new Promise((r) => setTimeout(r, 50));
      const prefix = 'part';
      const control = await openCluster(url, { prefix });
      cleanups.unshift(async () => {
        await destroyCluster(control);
        await control.close();
      });
      nsWorker = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', CLI, 'worker', '--nats', url, '--prefix', prefix, '--slots', '2', '--heartbeat-interval', '250'], { stdio: ['ignore', 'pipe', 'pipe'] });
      nsWorker.stdout!.on('data', (d: Buffer) => (nsOutput += d.toString()));
      nsWorker.stderr!.on('data', (d: Buffer) => (nsOutput += d.toString()));
      const registry = new ConnectorRegistry(builtinConnectors);
      const hostWorkers = await startWorkers(prefix, 1, 2, registry, url);
      cleanups.unshift(() => hostWorkers.close());
      // Both workers by id (the one in the namespace prints its id when it is ready).
      await expect.poll(() => /worker (\S+) ready/.exec(nsOutput)?.[1], { timeout: 60_000, interval: 200 }).toBeDefined();
      const ids = [hostWorkers.workers[0]!.id, /worker (\S+) ready/.exec(nsOutput)![1]!];
      const workerIds = async () => {
        const infos: WorkerInfo[] = [];
        for (const id of ids) {
          const info = (await control.workers.get(id))?.json<WorkerInfo>();
          if (info) infos.push(info);
        }
        return infos;
      };

      const out = join(dir.path, 'out');
      const jobName = `part-${tag}`;
      const debug = process.env.TIDEWAY_DEBUG ? stderrLogger('debug', '[coordinator] ') : silentLogger;
      const running = runClusterJob(
        {
          env: { name: jobName, parallelism: 2, checkpoint: { interval: '100ms' }, cluster_shared_paths: [out] },
          source: [{ type: 'fake', rows: 6000, splits: 12, chunk_rows: 50, rows_per_second: 1500 }],
          sink: [{ type: 'file', path: out, format: 'jsonl' }],
        },
        { registry, cluster: url, prefix, logger: debug, heartbeatTimeoutMs: 3000 },
      );
      let settled = false;
      void running.finally(() => (settled = true));
      let checkpoint = 0;
      while (checkpoint < 2 && !settled) {
        checkpoint = (await control.pointers.get(jobName))?.json<CheckpointPointer>().latest?.checkpointId ?? 0;
        await new Promise((r) => setTimeout(r, 50));
      }
      // The job must still run when the fault lands (only then is its result awaited for the message).
      if (settled) expect.fail(`the job ended before its second checkpoint: ${JSON.stringify((await running).error)}`);
      const hosting = (await workerIds()).filter((w) => w.runs.some((r) => r.job === jobName)).map((w) => w.pid);
      expect(hosting, 'the job should run on both workers before the partition').toHaveLength(2);
      ip('link', 'set', hostSide, 'down');
      const result = await running;
      console.log(`partition at checkpoint ${checkpoint}: ${result.status}, ${result.recoveries} recoveries`);
      expect(result.error).toBeNull();
      expect(result.status).toBe('finished');
      expect(result.recoveries).toBeGreaterThanOrEqual(1);
      await expect.poll(() => nsOutput, { timeout: 10_000 }).toMatch(/no heartbeat for \d+ ms: stopping the pipelines of job/);
      const written: number[] = [];
      for (const name of readdirSync(out).filter((n) => n.endsWith('.jsonl'))) {
        for (const line of readFileSync(join(out, name), 'utf8').split('\n')) if (line) written.push((JSON.parse(line) as { id: number }).id);
      }
      expect(written.sort((a, b) => a - b)).toEqual(Array.from({ length: 6000 }, (_, i) => i));
      // The cut-off worker closed its writers (discarding unacknowledged output) before the sweep, or after it.
      await new Promise((r) => setTimeout(r, 500));
      const staged = readdirSync(join(out, '.tideway-staging'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
      expect(staged.map((e) => e.name)).toEqual([]);
    }
  }, 180_000);
});
