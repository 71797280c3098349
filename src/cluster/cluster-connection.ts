import { connect, type NatsConnection, type Status } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { TidewayError } from '../api/errors.js';

/**
 * Names of everything a Tideway cluster keeps in NATS. All of them start with `prefix` (default `tideway`),
 * so that tests (and separate clusters on one NATS) use their own buckets and subjects.
 */
export interface ClusterNames {
  readonly prefix: string;
  /** KV: one key per live worker (slots, pipelines it hosts); entries expire when heartbeats stop. */
  readonly workers: string;
  /** KV: one coordinator lease per job, expiring unless renewed with compare-and-set. */
  readonly leases: string;
  /** KV: one checkpoint pointer per job (latest checkpoint, fencing epoch), advanced with compare-and-set. */
  readonly pointers: string;
  /** Object store: checkpoint bodies. */
  readonly bodies: string;
  /** Subject of requests to one worker. */
  worker(workerId: string): string;
  /** Subject of control messages to one pipeline of one run. */
  toPipeline(runId: string, pipelineId: number): string;
  /** Subject of control messages from every pipeline of one run to its coordinator. */
  fromPipelines(runId: string): string;
}

export function clusterNames(prefix = 'tideway'): ClusterNames {
  if (!/^[A-Za-z0-9_-]+$/.test(prefix)) throw new TidewayError('CONFIG_INVALID', `cluster prefix "${prefix}" may hold only letters, digits, "_" and "-"`);
  return {
    prefix,
    workers: `${prefix}_workers`,
    leases: `${prefix}_leases`,
    pointers: `${prefix}_checkpoints`,
    bodies: `${prefix}_checkpoint_bodies`,
    worker: (workerId) => `${prefix}.worker.${workerId}`,
    toPipeline: (runId, pipelineId) => `${prefix}.run.${runId}.to.${pipelineId}`,
    fromPipelines: (runId) => `${prefix}.run.${runId}.from`,
  };
}

/** Timings of a cluster; every side reads the same values from the buckets' own settings where it can. */
export interface ClusterTimings {
  /**
   * A worker whose heartbeat has not changed for this long is dead: its pipelines are treated as crashed.
   * @default 3000
   */
  heartbeatTimeoutMs: number;
  /**
   * A coordinator lease not renewed for this long expires, and another `run --cluster` may take the job over.
   * Fixed when the lease bucket is first created (it is the bucket's TTL).
   * @default 6000
   */
  leaseTtlMs: number;
}

export const DEFAULT_TIMINGS: ClusterTimings = { heartbeatTimeoutMs: 3000, leaseTtlMs: 6000 };

/** An open connection to a cluster's NATS with its buckets. `close()` is safe to call twice. */
export interface Cluster {
  /** The NATS URL with any user and password masked: safe for logs, errors and status output. */
  readonly url: string;
  readonly nc: NatsConnection;
  readonly names: ClusterNames;
  readonly workers: KV;
  readonly leases: KV;
  readonly pointers: KV;
  readonly bodies: ObjectStore;
  /** The lease bucket's TTL: how long a coordinator lease lives without renewal. */
  readonly leaseTtlMs: number;
  readonly jsm: JetStreamManager;
  close(): Promise<void>;
}

export interface OpenClusterOptions {
  prefix?: string;
  /** TTL of the lease bucket when this call creates it (an existing bucket keeps its own). */
  leaseTtlMs?: number;
  /** Connection name shown by the NATS server's monitoring. */
  name?: string;
}

/** How long worker keys of dead workers stay visible (to `cluster status`) before the server removes them. */
const WORKER_KEY_TTL_MS = 60_000;

/**
 * Connects to NATS and opens (creating where missing) the cluster's buckets. Fails with CLUSTER_UNREACHABLE
 * naming the URL when NATS does not answer, and CLUSTER_NO_JETSTREAM when the server runs without JetStream.
 */
export async function openCluster(secretUrl: string, options: OpenClusterOptions = {}): Promise<Cluster> {
  const names = clusterNames(options.prefix);
  const url = maskUrl(secretUrl);
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: secretUrl, name: options.name ?? 'tideway', maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  } catch (error) {
    throw new TidewayError(
      'CLUSTER_UNREACHABLE',
      `cannot connect to the cluster's NATS server at ${url} (${(error as Error).message.split(secretUrl).join(url)}); start nats-server with JetStream (-js) there, or pass the right --cluster/--nats URL`,
      // The client's own message may quote the URL it was given.
      { context: { path: url } },
    );
  }
  try {
    const jsm = await jetstreamManager(nc).catch((error: unknown) => {
      throw new TidewayError('CLUSTER_NO_JETSTREAM', `the NATS server at ${url} has no JetStream; start it with -js (JetStream keeps the cluster's leases and checkpoints)`, { cause: error });
    });
    const kvm = new Kvm(nc);
    const workers = await kvm.create(names.workers, { history: 1, ttl: WORKER_KEY_TTL_MS });
    const leases = await kvm.create(names.leases, { history: 1, ttl: options.leaseTtlMs ?? DEFAULT_TIMINGS.leaseTtlMs });
    const pointers = await kvm.create(names.pointers, { history: 1 });
    const bodies = await new Objm(nc).create(names.bodies);
    const leaseTtlMs = (await leases.status()).ttl;
    let closed: Promise<void> | undefined;
    return {
      url,
      nc,
      names,
      workers,
      leases,
      pointers,
      bodies,
      leaseTtlMs,
      jsm,
      close: () => (closed ??= nc.drain().catch(() => nc.close())),
    };
  } catch (error) {
    await nc.close().catch(() => undefined);
    throw error;
  }
}

/** Removes every bucket of a cluster prefix (tests use their own prefix and remove it afterwards). */
export async function destroyCluster(cluster: Cluster): Promise<void> {
  await cluster.workers.destroy().catch(() => undefined);
  await cluster.leases.destroy().catch(() => undefined);
  await cluster.pointers.destroy().catch(() => undefined);
  await cluster.bodies.destroy().catch(() => undefined);
}

/** `nats://user:secret@host:4222` -> `nats://***@host:4222`: credentials in a NATS URL never reach a log or an error. */
export function maskUrl(url: string): string {
  return url.replace(/^(\w+:\/\/)[^@/]*@/, '$1***@');
}

/** JetStream's "wrong last sequence" answer to a compare-and-set whose expected revision is stale. */
export function isRevisionConflict(error: unknown): boolean {
  return error instanceof Error && /wrong last sequence|key exists/i.test(error.message);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function decodeJson<T>(data: Uint8Array): T {
  return JSON.parse(decoder.decode(data)) as T;
}

/**
 * Calls `onDisconnect` each time the connection to NATS drops (the client reconnects on its own). `stop()`
 * ends the watch and waits for a call in progress.
 */
export function onDisconnect(nc: NatsConnection, handler: () => unknown): { stop(): Promise<void> } {
  // The client's status iterator is a queued iterator that has stop(); the public type only says AsyncIterable.
  const statuses = nc.status() as AsyncIterable<Status> & { stop?: () => void };
  const loop = (async () => {
    for await (const status of statuses) if (status.type === 'disconnect') await handler();
  })().catch(() => undefined);
  return {
    async stop() {
      statuses.stop?.();
      await loop;
    },
  };
}

/**
 * The keys of a KV bucket, from the server's own count of the stream's subjects. The client's `keys()` lists
 * through a consumer, which repeats or skips a key rewritten while it lists (heartbeats rewrite every worker
 * key every second); the subject count is one snapshot. Deleted keys may still be named: `get` tells.
 */
export async function bucketKeys(cluster: Cluster, bucket: string): Promise<string[]> {
  const info = await cluster.jsm.streams.info(`KV_${bucket}`, { subjects_filter: '>' });
  const prefix = `$KV.${bucket}.`;
  return Object.keys(info.state.subjects ?? {})
    .filter((subject) => subject.startsWith(prefix))
    .map((subject) => subject.slice(prefix.length))
    .sort();
}
