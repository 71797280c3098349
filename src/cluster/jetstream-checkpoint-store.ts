import { createHash } from 'node:crypto';
import { TidewayError } from '../api/errors.js';
import type { Logger } from '../api/logger.js';
import type { CheckpointData, CheckpointStore } from '../engine/checkpoint-store.js';
import { type Cluster, decodeJson, encodeJson, isRevisionConflict } from './cluster-connection.js';
import { CoordinatorLease } from './coordinator-lease.js';

/**
 * The checkpoint pointer of one job: which checkpoint body is the latest, and the epoch of the coordinator
 * that last claimed the pointer.
 */
export interface CheckpointPointer {
  job: string;
  /** The lease epoch of the coordinator that wrote this pointer: a fencing token, only ever growing. */
  epoch: number;
  latest: { checkpointId: number; object: string; sha256: string } | null;
  /** Bodies kept (newest last), for `retain`. */
  kept: string[];
}

/**
 * Checkpoints in NATS JetStream: bodies in an object store, the pointer to the latest in a KV bucket.
 *
 * Fencing. `lock()` takes the job's coordinator lease, then claims the pointer: a compare-and-set that
 * writes the lease's epoch into it. Every later pointer write (save, clear) is a compare-and-set on the
 * revision this coordinator itself last wrote. A coordinator that lost its lease to another has had its
 * pointer claimed by that other one, so its next compare-and-set fails (COORDINATOR_FENCED) and the
 * checkpoint it was saving never becomes the latest. The engine commits a checkpoint only after `save`
 * returned, so a fenced coordinator commits nothing new either. See README, "Cluster", for the window that
 * remains.
 */
export class JetStreamCheckpointStore implements CheckpointStore {
  readonly location: string;
  private lease: CoordinatorLease | undefined;
  private pointerRevision = 0;
  private pointer: CheckpointPointer | undefined;
  private releaseHeld: (() => Promise<void>) | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly job: string,
    private readonly logger: Logger,
    private readonly options: { takeoverWaitMs?: number; signal?: AbortSignal } = {},
  ) {
    this.location = `nats ${cluster.url} KV ${cluster.names.pointers}/${job}`;
  }

  /** The lease this store holds, once locked: the transport tells workers its token. */
  get heldLease(): CoordinatorLease | undefined {
    return this.lease;
  }

  /** The held lease's epoch: sinks see it as `SinkContext.epoch`. */
  get epoch(): number | undefined {
    return this.lease?.epoch;
  }

  /**
   * Takes the lease and claims the pointer. While the store holds them (a cluster run re-running the job after
   * a worker died), further calls return at once and their release does nothing: the first caller's release
   * ends the lease.
   */
  async lock(): Promise<() => Promise<void>> {
    if (this.lease?.held) return async () => undefined;
    const lease = await CoordinatorLease.acquire(this.cluster, this.job, { logger: this.logger, ...this.options });
    try {
      await this.claimPointer(lease.epoch);
    } catch (error) {
      await lease.release();
      throw error;
    }
    this.lease = lease;
    this.releaseHeld = async () => {
      this.releaseHeld = undefined;
      await lease.release();
    };
    return this.releaseHeld;
  }

  private async claimPointer(epoch: number): Promise<void> {
    const entry = await this.cluster.pointers.get(this.job);
    const current = entry && entry.operation === 'PUT' ? decodeJson<CheckpointPointer>(entry.value) : undefined;
    if (current && current.epoch >= epoch) throw this.fenced(`the pointer carries epoch ${current.epoch}, newer than this coordinator's ${epoch}`);
    const next: CheckpointPointer = { job: this.job, epoch, latest: current?.latest ?? null, kept: current?.kept ?? [] };
    try {
      this.pointerRevision = entry ? await this.cluster.pointers.update(this.job, encodeJson(next), entry.revision) : await this.cluster.pointers.create(this.job, encodeJson(next));
    } catch (error) {
      if (isRevisionConflict(error)) throw this.fenced('another coordinator claimed the checkpoint pointer at the same moment');
      throw error;
    }
    this.pointer = next;
  }

  private fenced(why: string): TidewayError {
    return new TidewayError(
      'COORDINATOR_FENCED',
      `this coordinator may no longer write checkpoints of job ${this.job}: ${why}. Another coordinator took the job over; ` +
        `this one saves and commits nothing more (the new one resumes from the last checkpoint)`,
      { context: { job: this.job } },
    );
  }

  private held(): CheckpointPointer {
    if (!this.lease || !this.pointer) throw new TidewayError('LEASE_LOST', `the checkpoint store of job ${this.job} is not locked; lock() first`);
    this.lease.assertHeld();
    return this.pointer;
  }

  /** Writes the pointer by compare-and-set on the revision this coordinator last wrote. */
  private async advance(next: CheckpointPointer): Promise<void> {
    try {
      this.pointerRevision = await this.cluster.pointers.update(this.job, encodeJson(next), this.pointerRevision);
      this.pointer = next;
    } catch (error) {
      if (isRevisionConflict(error)) throw this.fenced('the checkpoint pointer changed since this coordinator last wrote it');
      throw error;
    }
  }

  async latest(): Promise<CheckpointData | undefined> {
    const entry = await this.cluster.pointers.get(this.job);
    if (!entry || entry.operation !== 'PUT') return undefined;
    const pointer = decodeJson<CheckpointPointer>(entry.value);
    const latest = pointer.latest;
    if (!latest) return undefined;
    const body = await this.cluster.bodies.getBlob(latest.object);
    const where = `object ${latest.object} in NATS object store ${this.cluster.names.bodies}`;
    const damaged = (problem: string) =>
      new TidewayError(
        'CHECKPOINT_DAMAGED',
        `the newest checkpoint of job ${this.job} (${where}) ${problem}. Its output may already be committed, so Tideway neither resumes from an older ` +
          `checkpoint nor starts over; restore the object from a copy if you have one, otherwise compare the sinks' output with the source and decide by hand`,
        { context: { job: this.job, object: latest.object } },
      );
    if (!body) throw damaged('is missing');
    if (digest(body) !== latest.sha256) throw damaged('does not match its SHA-256');
    return decodeJson<CheckpointData>(body);
  }

  async save(data: CheckpointData): Promise<void> {
    const pointer = this.held();
    const body = encodeJson(data);
    const object = `${this.job}/chk-${String(data.checkpointId).padStart(10, '0')}-e${pointer.epoch}`;
    await this.cluster.bodies.putBlob({ name: object }, body);
    const kept = [...pointer.kept.filter((k) => k !== object), object];
    await this.advance({ ...pointer, latest: { checkpointId: data.checkpointId, object, sha256: digest(body) }, kept });
  }

  async retain(keep: number): Promise<void> {
    const pointer = this.held();
    if (pointer.kept.length <= keep) return;
    const drop = pointer.kept.slice(0, pointer.kept.length - keep);
    await this.advance({ ...pointer, kept: pointer.kept.slice(-keep) });
    for (const object of drop) await this.cluster.bodies.delete(object).catch(() => undefined);
  }

  async clear(): Promise<void> {
    const pointer = this.held();
    await this.advance({ ...pointer, latest: null, kept: [] });
    for (const object of pointer.kept) await this.cluster.bodies.delete(object).catch(() => undefined);
  }
}

function digest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
