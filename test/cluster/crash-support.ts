/** What the cluster crash tests share: `tideway` child processes, a pool of worker processes, and what they watch in NATS. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bucketKeys, type Cluster } from '../../src/cluster/cluster-connection.js';
import type { CheckpointPointer } from '../../src/cluster/jetstream-checkpoint-store.js';
import type { WorkerInfo } from '../../src/cluster/protocol.js';
import type { LabHost } from './netns-lab.js';
import { NATS_URL } from './support.js';

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;
// By URL, so that a child whose working directory is elsewhere (a lab host's) still finds tsx.
const TSX = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/loader.mjs')).href;

export interface TidewayProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** `tideway <args>` in a child process (on a lab host when given), its stdout and stderr collected. */
export function tideway(args: string[], host?: LabHost): TidewayProcess {
  const argv = [process.execPath, '--import', TSX, CLI, ...args];
  const [command, ...rest] = host ? host.wrap(argv) : argv;
  const child = spawn(command!, rest, { stdio: ['ignore', 'pipe', 'pipe'], ...(host ? { cwd: host.cwd } : {}) });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface WorkerPool {
  readonly live: Set<TidewayProcess>;
  /** Starts a worker: on `host` when given (lab pools: the host of the worker it replaces), else on the next host in turn. */
  start(host?: LabHost): void;
  /** The lab host a worker runs on (lab pools only). */
  hostOf(worker: TidewayProcess): LabHost | undefined;
  stop(): Promise<void>;
}

/**
 * `tideway worker` processes on a cluster prefix (3 slots, 250 ms heartbeats); those alive are in `live`.
 * With `hosts`, each runs on a lab host (in turn) and reaches NATS at `url`.
 */
export function workerPool(prefix: string, options: { url?: string; hosts?: readonly LabHost[] } = {}): WorkerPool {
  const live = new Set<TidewayProcess>();
  const hostOf = new Map<TidewayProcess, LabHost>();
  let started = 0;
  return {
    live,
    start(host) {
      const on = host ?? (options.hosts ? options.hosts[started % options.hosts.length] : undefined);
      started++;
      const worker = tideway(['worker', '--nats', options.url ?? NATS_URL, '--prefix', prefix, '--slots', '3', '--heartbeat-interval', '250'], on);
      live.add(worker);
      if (on) hostOf.set(worker, on);
      void worker.exited.then(() => live.delete(worker));
    },
    hostOf: (worker) => hostOf.get(worker),
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

export type Coordinator = TidewayProcess & { done(): boolean };

/**
 * `tideway run <file> --cluster` on the prefix (2 s heartbeat timeout, --json), on a lab host reaching NATS at
 * `url` when given; `done()` is true once it has exited.
 */
export function startCoordinator(file: string, prefix: string, options: { url?: string; host?: LabHost } = {}): Coordinator {
  const coordinator = tideway(['run', file, '--cluster', options.url ?? NATS_URL, '--cluster-prefix', prefix, '--heartbeat-timeout', '2000', '--json'], options.host);
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

export type Victim = 'worker' | 'coordinator';

/** `workers` worker kills and `coordinators` coordinator kills in a seeded order: both kinds are always exercised. */
export function killOrder(random: () => number, workers: number, coordinators: number): Victim[] {
  const order: Victim[] = [...Array<Victim>(workers).fill('worker'), ...Array<Victim>(coordinators).fill('coordinator')];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/**
 * SIGKILLs, in the order given, the processes of cluster jobs run one after another (a job run while kills
 * remain takes the next ones): after each checkpoint that follows the last recovery, and a random pause, either
 * the coordinator (the next attempt starts a new one, which waits out the dead one's lease and resumes) or a
 * worker hosting pipelines of the job (a new one starts in its place, on the same lab host in lab pools).
 * `inFlight` may wait for a request of the victim's to be in flight at a service first; such kills are counted.
 */
export class KillSchedule {
  private next = 0;
  readonly kills = { worker: 0, coordinator: 0 };
  readonly inFlightKills = { worker: 0, coordinator: 0 };
  readonly log: string[] = [];
  private readonly coordinators: ChildProcess[] = [];

  constructor(
    readonly order: readonly Victim[],
    private readonly random: () => number,
    private readonly context: string,
  ) {}

  get remaining(): number {
    return this.order.length - this.next;
  }

  note(line: string): void {
    this.log.push(line);
    if (process.env.TIDEWAY_DEBUG) console.log(`${new Date().toISOString()} ${line}`);
  }

  /**
   * Runs one job to its end through up to 30 coordinator attempts (`start(attempt)` starts one), killing as the
   * order says. True when it finished; a coordinator that exits with an error throws.
   */
  async runJob(options: {
    cluster: Cluster;
    jobName: string;
    label: string;
    pool: WorkerPool;
    start: (attempt: number) => Coordinator;
    inFlight?: Partial<Record<Victim, () => Promise<boolean>>>;
  }): Promise<boolean> {
    const { cluster, jobName, label, pool } = options;
    let lastCheckpoint = 0;
    for (let attempt = 0; attempt < 30; attempt++) {
      const coordinator = options.start(attempt);
      this.coordinators.push(coordinator.child);
      const done = coordinator.done;
      while (!done() && this.remaining > 0) {
        // Kill mid-run: only once the job checkpoints again after the last recovery, so there is committed
        // output to keep and staged output in flight.
        const progressed = await checkpointPast(cluster, jobName, lastCheckpoint + 1, done);
        if (!progressed) break;
        lastCheckpoint = progressed;
        await sleep(Math.floor(this.random() * 300));
        if (done()) break;
        if (this.order[this.next] === 'coordinator') {
          if (await options.inFlight?.coordinator?.()) this.inFlightKills.coordinator++;
          if (done()) break;
          coordinator.child.kill('SIGKILL');
          this.kills.coordinator++;
          this.next++;
          this.note(`${label} attempt ${attempt}: killed the coordinator after checkpoint ${progressed}`);
          break;
        }
        // A worker that hosts pipelines of the job, as its heartbeat key says.
        const hosting = await hostingPids(cluster, jobName);
        const victims = [...pool.live].filter((w) => hosting.has(w.child.pid!));
        if (victims.length === 0) continue;
        const victim = victims[Math.floor(this.random() * victims.length)]!;
        if (await options.inFlight?.worker?.()) this.inFlightKills.worker++;
        if (done()) break;
        if (victim.child.exitCode !== null) continue;
        victim.child.kill('SIGKILL');
        this.kills.worker++;
        this.next++;
        const host = pool.hostOf(victim);
        this.note(`${label} attempt ${attempt}: killed a worker hosting pipelines${host ? ` on ${host.name}` : ''} after checkpoint ${progressed}`);
        pool.start(host);
      }
      if (await coordinatorFinished(coordinator, (line) => this.note(line), `${label} attempt ${attempt}`, this.context, this.log)) return true;
    }
    return false;
  }

  /** Kills the coordinators of attempts the test gave up on. */
  killCoordinators(): void {
    for (const child of this.coordinators) child.kill('SIGKILL');
  }
}
