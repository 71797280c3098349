import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/api/logger.js';
import { destroyCluster, openCluster } from '../../src/cluster/cluster-connection.js';
import type { CheckpointPointer } from '../../src/cluster/jetstream-checkpoint-store.js';
import { type ClusterJobResult, runClusterJob } from '../../src/cluster/run-cluster-job.js';
import { builtinConnectors, ConnectorRegistry, type JobConfig } from '../../src/index.js';
import { tempDir } from '../helpers/jobs.js';
import { probeService } from '../helpers/services.js';
import { startWorkers } from './support.js';

const NATS_SERVER = '/usr/sbin/nats-server';
const serverThere = existsSync(NATS_SERVER);
if (!serverThere) {
  if (process.env.CI === 'true') throw new Error(`${NATS_SERVER} is missing; CI=true requires it (apt-get install nats-server)`);
  console.warn(`skipping: ${NATS_SERVER} is missing, so this test cannot restart a NATS server of its own`);
}

/** A NATS server of this test's own (its own port and JetStream directory), so that restarting it disturbs no one. */
function natsServer(port: number, storeDir: string): { start(): Promise<void>; stop(): Promise<void> } {
  let child: ChildProcess | undefined;
  return {
    async start() {
      child = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: 'ignore' });
      for (let i = 0; i < 100 && !(await probeService('127.0.0.1', port, 200)).ok; i++) await new Promise((r) => setTimeout(r, 50));
    },
    async stop() {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child?.kill('SIGTERM');
      await exited;
    },
  };
}

function ids(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.jsonl'))) {
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) if (line) out.push((JSON.parse(line) as { id: number }).id);
  }
  return out.sort((a, b) => a - b);
}

/**
 * The NATS server is stopped (SIGTERM) mid-job and started again on the same JetStream directory: the
 * coordinator and the workers reconnect, the run resumes from its last checkpoint (or fails with a clear code
 * and the next run resumes it), and every id is written exactly once.
 */
describe.skipIf(!serverThere)('NATS restarted mid-job', () => {
  it('the job recovers from its last checkpoint and writes every id exactly once', async () => {
    const port = 14_000 + Math.floor(Math.random() * 2000);
    const url = `nats://127.0.0.1:${port}`;
    const dir = tempDir('tideway-nats-restart-');
    const server = natsServer(port, join(dir.path, 'jetstream'));
    await server.start();
    const prefix = 'restart';
    const control = await openCluster(url, { prefix });
    const registry = new ConnectorRegistry(builtinConnectors);
    const workers = await startWorkers(prefix, 2, 2, registry, url);
    const out = join(dir.path, 'out');
    const job: JobConfig = {
      env: { name: 'restart-job', parallelism: 2, checkpoint: { interval: '100ms' }, cluster_shared_paths: [out] },
      source: [{ type: 'fake', rows: 8000, splits: 16, chunk_rows: 50, rows_per_second: 1000 }],
      sink: [{ type: 'file', path: out, format: 'jsonl' }],
    };
    const run = () => runClusterJob(job, { registry, cluster: url, prefix, logger: silentLogger, heartbeatTimeoutMs: 3000 });
    try {
      const first = run();
      let settled = false;
      void first.finally(() => (settled = true));
      let checkpoint = 0;
      while (checkpoint < 2 && !settled) {
        checkpoint = (await control.pointers.get('restart-job'))?.json<CheckpointPointer>().latest?.checkpointId ?? 0;
        await new Promise((r) => setTimeout(r, 50));
      }
      // The job must still run when the fault lands (only then is its result awaited for the message).
      if (settled) expect.fail(`the job ended before its second checkpoint: ${JSON.stringify((await first).error)}`);
      await server.stop();
      await new Promise((r) => setTimeout(r, 700));
      await server.start();
      const results: ClusterJobResult[] = [await first];
      // Recovered in the same run, or failed with a stated reason and resumed by the next.
      while (results.at(-1)!.status !== 'finished' && results.length < 3) {
        expect(results.at(-1)!.error?.code, JSON.stringify(results.at(-1)!.error)).toMatch(/^[A-Z_]+$/);
        results.push(await run());
      }
      console.log(`after a NATS restart at checkpoint ${checkpoint}: ${results.map((r) => `${r.status} (recoveries ${r.recoveries}${r.error ? `, ${r.error.code}` : ''})`).join(', ')}`);
      expect(results.at(-1)!.status).toBe('finished');
      expect(results.some((r) => r.recoveries > 0 || r.resumedFromCheckpoint !== null)).toBe(true);
      expect(ids(out)).toEqual(Array.from({ length: 8000 }, (_, i) => i));
      expect(readdirSync(join(out, '.tideway-staging'), { recursive: true }).filter((n) => String(n).includes('.'))).toEqual([]);
    } finally {
      await workers.close();
      await destroyCluster(control);
      await control.close();
      await server.stop();
      dir.remove();
    }
  }, 180_000);
});
