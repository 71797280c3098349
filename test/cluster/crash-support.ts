/** What the cluster crash tests share: `tideway` child processes, a pool of worker processes, and what they watch in NATS. */
import { type ChildProcess, spawn } from 'node:child_process';
import { bucketKeys, type Cluster } from '../../src/cluster/cluster-connection.js';
import type { CheckpointPointer } from '../../src/cluster/jetstream-checkpoint-store.js';
import type { WorkerInfo } from '../../src/cluster/protocol.js';
import { NATS_URL } from './support.js';

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;

export interface TidewayProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** `tideway <args>` in a child process, its stdout and stderr collected. */
export function tideway(args: string[]): TidewayProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `tideway worker` processes on a cluster prefix (3 slots, 250 ms heartbeats); those alive are in `live`. */
export function workerPool(prefix: string): { live: Set<TidewayProcess>; start(): void; stop(): Promise<void> } {
  const live = new Set<TidewayProcess>();
  return {
    live,
    start() {
      const worker = tideway(['worker', '--nats', NATS_URL, '--prefix', prefix, '--slots', '3', '--heartbeat-interval', '250']);
      live.add(worker);
      void worker.exited.then(() => live.delete(worker));
    },
    async stop() {
      for (const worker of live) worker.child.kill('SIGTERM');
      await Promise.all([...live].map((w) => w.exited));
    },
  };
}

/** Resolves with the job's checkpoint once it reaches `id`, or 0 when `stopped()` first. */
export async function checkpointPast(cluster: Cluster, jobName: string, id: number, stopped: () => boolean): Promise<number> {
  while (!stopped()) {
    const pointer = (await cluster.pointers.get(jobName))?.json<CheckpointPointer>();
    const latest = pointer?.latest?.checkpointId ?? 0;
    if (latest >= id) return latest;
    await sleep(50);
  }
  return 0;
}

/** The pids of the workers that host pipelines of the job, as their heartbeat keys say. */
export async function hostingPids(cluster: Cluster, jobName: string): Promise<Set<number>> {
  const hosting = new Set<number>();
  for (const key of await bucketKeys(cluster, cluster.names.workers)) {
    const info = (await cluster.workers.get(key))?.json<WorkerInfo>();
    if (info?.runs.some((r) => r.job === jobName)) hosting.add(info.pid);
  }
  return hosting;
}

/** `tideway run <file> --cluster` on the prefix (2 s heartbeat timeout, --json); `done()` is true once it has exited. */
export function startCoordinator(file: string, prefix: string): TidewayProcess & { done(): boolean } {
  const coordinator = tideway(['run', file, '--cluster', NATS_URL, '--cluster-prefix', prefix, '--heartbeat-timeout', '2000', '--json']);
  let done = false;
  void coordinator.exited.then(() => (done = true));
  return { ...coordinator, done: () => done };
}

/**
 * Waits for a coordinator to exit: true when the job finished (exit 0, noted with its report), false when it was
 * killed. Any other exit throws with its output, `context` (the seed) and the log.
 */
export async function coordinatorFinished(coordinator: TidewayProcess, note: (line: string) => void, what: string, context: string, log: readonly string[]): Promise<boolean> {
  const code = await coordinator.exited;
  if (process.env.TIDEWAY_DEBUG) note(coordinator.output().split('\n').filter((l) => !l.startsWith('progress')).join('\n'));
  if (code === 0) {
    note(`${what}: finished ${coordinator.output().split('\n').find((l) => l.startsWith('{'))?.slice(0, 160)}`);
    return true;
  }
  if (code !== null) throw new Error(`the coordinator exited with ${code} (${context}):\n${coordinator.output()}\n${log.join('\n')}`);
  return false;
}
