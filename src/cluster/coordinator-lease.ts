import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { TidewayError } from '../api/errors.js';
import type { Logger } from '../api/logger.js';
import { type Cluster, decodeJson, encodeJson, isRevisionConflict } from './cluster-connection.js';

/** What a lease key holds: who coordinates the job, and the token its pipelines and workers check. */
export interface LeaseValue {
  job: string;
  /** Random per acquisition: workers stop a job's pipelines once the lease no longer carries their token. */
  token: string;
  host: string;
  pid: number;
  acquiredAt: string;
}

export interface AcquireOptions {
  logger: Logger;
  signal?: AbortSignal;
  /**
   * How long to watch a lease held by someone else for renewals before refusing. A holder that renews in
   * that time is alive (JOB_ALREADY_RUNNING at once); one that does not is dead, and its lease expires
   * (the bucket's TTL) before this wait ends. Default: the lease TTL plus one second.
   */
  takeoverWaitMs?: number;
}

/**
 * A coordinator's lease on one job: a key in the lease bucket created only if absent, renewed by
 * compare-and-set on the revision it last wrote, and removed by the server (the bucket's TTL) if not renewed.
 *
 * `epoch` is the KV revision of the acquisition: revisions only grow, so a later coordinator of the same
 * job always has a larger epoch. The checkpoint store writes it into the checkpoint pointer (see
 * JetStreamCheckpointStore), which is what fences a coordinator that lost its lease.
 */
export class CoordinatorLease {
  private revision: number;
  private timer: NodeJS.Timeout | undefined;
  private lostError: TidewayError | undefined;
  private readonly lostListeners: ((error: TidewayError) => void)[] = [];
  private lastRenewed = Date.now();
  private renewing: Promise<void> | undefined;
  private released: Promise<void> | undefined;

  private constructor(
    private readonly cluster: Cluster,
    readonly job: string,
    readonly value: LeaseValue,
    readonly epoch: number,
    private readonly logger: Logger,
  ) {
    this.revision = epoch;
  }

  static key(job: string): string {
    return job;
  }

  /** Takes the job's lease, waiting out a dead holder's lease; refuses while a live holder renews it. */
  static async acquire(cluster: Cluster, job: string, options: AcquireOptions): Promise<CoordinatorLease> {
    const value: LeaseValue = { job, token: randomBytes(8).toString('hex'), host: hostname(), pid: process.pid, acquiredAt: new Date().toISOString() };
    const wait = options.takeoverWaitMs ?? cluster.leaseTtlMs + 1000;
    const deadline = Date.now() + wait;
    let seen: { revision: number; holder: LeaseValue } | undefined;
    for (;;) {
      options.signal?.throwIfAborted();
      try {
        const revision = await cluster.leases.create(CoordinatorLease.key(job), encodeJson(value));
        const lease = new CoordinatorLease(cluster, job, value, revision, options.logger);
        lease.startRenewing();
        return lease;
      } catch (error) {
        if (!isRevisionConflict(error)) throw error;
      }
      const entry = await cluster.leases.get(CoordinatorLease.key(job));
      if (!entry || entry.operation !== 'PUT') continue;
      const holder = decodeJson<LeaseValue>(entry.value);
      const describe = `${holder.host} pid ${holder.pid}, since ${holder.acquiredAt}`;
      if (seen && seen.revision !== entry.revision && seen.holder.token === holder.token) {
        throw new TidewayError(
          'JOB_ALREADY_RUNNING',
          `job ${job} is coordinated by a live coordinator (${describe}): its lease in NATS bucket ${cluster.names.leases} is being renewed. ` +
            `Wait for that run to finish or stop it; a second coordinator would write the job's output twice`,
          { context: { job } },
        );
      }
      if (!seen || seen.holder.token !== holder.token) {
        seen = { revision: entry.revision, holder };
        options.logger.info(`job ${job} has a coordinator lease (${describe}); waiting up to ${wait} ms for it to be renewed (live: refuse) or to expire (dead: take over)`, { job });
      }
      if (Date.now() > deadline) {
        throw new TidewayError(
          'JOB_ALREADY_RUNNING',
          `job ${job} is still leased to ${describe} after ${wait} ms; a coordinator holds it. Wait for that run to finish or stop it`,
          { context: { job } },
        );
      }
      await sleep(Math.min(250, cluster.leaseTtlMs / 8), options.signal);
    }
  }

  /** True until renewal failed: another coordinator may hold the job now. */
  get held(): boolean {
    return this.lostError === undefined && this.released === undefined;
  }

  /** Throws LEASE_LOST when the lease is no longer this coordinator's. */
  assertHeld(): void {
    if (this.lostError) throw this.lostError;
    if (this.released) throw new TidewayError('LEASE_LOST', `the lease on job ${this.job} was released`);
  }

  onLost(listener: (error: TidewayError) => void): void {
    if (this.lostError) listener(this.lostError);
    else this.lostListeners.push(listener);
  }

  private startRenewing(): void {
    const every = Math.max(50, Math.floor(this.cluster.leaseTtlMs / 3));
    this.timer = setInterval(() => {
      this.renewing ??= this.renew().finally(() => (this.renewing = undefined));
    }, every);
  }

  private async renew(): Promise<void> {
    if (!this.held) return;
    try {
      this.revision = await this.cluster.leases.update(CoordinatorLease.key(this.job), encodeJson(this.value), this.revision);
      this.lastRenewed = Date.now();
    } catch (error) {
      if (isRevisionConflict(error)) {
        this.lose(`its lease key changed under it (expired and taken by another coordinator, or removed)`);
        return;
      }
      // NATS unreachable: the lease may still be ours, but once its TTL has passed without a renewal it is not.
      if (Date.now() - this.lastRenewed >= this.cluster.leaseTtlMs) this.lose(`it could not renew its lease for ${Date.now() - this.lastRenewed} ms (${(error as Error).message})`);
      else this.logger.warn('could not renew the coordinator lease; retrying', { job: this.job, error: (error as Error).message });
    }
  }

  private lose(why: string): void {
    if (this.lostError) return;
    this.lostError = new TidewayError(
      'LEASE_LOST',
      `this coordinator lost job ${this.job}: ${why}. It saves no further checkpoint and commits nothing more; ` +
        `the coordinator that holds the lease now (or the next \`tideway run --cluster\`) resumes from the last checkpoint`,
      { context: { job: this.job } },
    );
    if (this.timer) clearInterval(this.timer);
    this.logger.error(this.lostError.message, { job: this.job });
    for (const listener of this.lostListeners.splice(0)) listener(this.lostError);
  }

  /** Stops renewing and removes the key if it is still ours; safe to call twice. */
  release(): Promise<void> {
    this.released ??= (async () => {
      if (this.timer) clearInterval(this.timer);
      await this.renewing;
      if (this.lostError) return;
      await this.cluster.leases.delete(CoordinatorLease.key(this.job), { previousSeq: this.revision }).catch(() => undefined);
    })();
    return this.released;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
