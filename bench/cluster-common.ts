/** What the cluster benchmarks (bench/cluster.ts, bench/cluster-scale.ts) share: printing, load and CPU. */
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { openCluster } from '../src/cluster/cluster-connection.js';

export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

export function line(name: string, value: string, ratio?: number, goal?: string): void {
  process.stdout.write(`${name.padEnd(66)} ${value.padStart(20)}${ratio === undefined ? '' : `  ratio ${ratio.toFixed(2)}`}${goal ? ` (goal ${goal})` : ''}\n`);
}

export function note(text: string): void {
  process.stdout.write(`  ${text}\n`);
}

export function load(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

export function machine(): string {
  return `${new Date().toISOString()}, ${cpus().length} cores, node ${process.version}, load average ${load()}`;
}

const TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used, from /proc; undefined off Linux or once it is gone. */
export function cpuSecondsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return undefined;
  }
}

/**
 * The pid of the nats-server listening on NATS_URL's port, to count its CPU (others may run their own
 * servers on other ports); undefined when it is not visible from here.
 */
export function natsServerPid(): number | undefined {
  const port = new URL(NATS_URL.replace(/^nats:/, 'http:')).port || '4222';
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'nats-server') continue;
        const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
        const at = args.findIndex((a) => a === '-p' || a === '--port');
        if ((at >= 0 ? args[at + 1] : '4222') === port) return Number(entry);
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return undefined;
}

/** CPU seconds used by each named process between `start()` and `stop()`. */
export function cpuMeter(pids: Record<string, () => number | undefined>): () => Record<string, number> {
  const self = process.cpuUsage();
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSecondsOf(pid()) ?? 0]));
  return () => {
    const used = process.cpuUsage(self);
    const out: Record<string, number> = { coordinator: (used.user + used.system) / 1e6 };
    for (const [name, pid] of Object.entries(pids)) out[name] = (cpuSecondsOf(pid()) ?? 0) - (before[name] ?? 0);
    return out;
  };
}

export function cpuText(cpu: Record<string, number>, seconds: number): string {
  return Object.entries(cpu)
    .map(([name, s]) => `${name} ${s.toFixed(1)} s (${((s / seconds) * 100).toFixed(0)}%)`)
    .join(', ');
}

/** Waits until `count` workers have a heartbeat key under `prefix`. */
export async function waitForWorkers(count: number, prefix: string, timeoutMs = 120_000): Promise<void> {
  const cluster = await openCluster(NATS_URL, { prefix });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      let n = 0;
      for await (const _ of await cluster.workers.keys()) n++;
      if (n >= count) return;
      if (Date.now() > deadline) throw new Error(`only ${n} of ${count} workers appeared under prefix ${prefix}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await cluster.close();
  }
}

export const mb = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MB`;
