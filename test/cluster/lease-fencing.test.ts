import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/api/logger.js';
import { encodeJson } from '../../src/cluster/cluster-connection.js';
import { CoordinatorLease } from '../../src/cluster/coordinator-lease.js';
import { JetStreamCheckpointStore } from '../../src/cluster/jetstream-checkpoint-store.js';
import type { CheckpointData } from '../../src/engine/checkpoint-store.js';
import { natsUp, useClusterPrefix } from './support.js';

const checkpoint = (job: string, checkpointId: number): CheckpointData => ({
  format: 'tideway-checkpoint',
  version: 2,
  job,
  checkpointId,
  attemptId: 'a',
  createdAt: new Date().toISOString(),
  endOfInput: false,
  sources: [],
  sinks: [{ name: 'sink', writerStates: [], pending: [{ file: `staged-${checkpointId}` }] }],
});

let jobs = 0;
const nextJob = () => `job${++jobs}x${Date.now().toString(36)}`;

describe.skipIf(!natsUp)('coordinator lease and checkpoint fencing (JetStream KV)', () => {
  // A short TTL keeps the takeover tests quick: the lease expires 1.5 s after its last renewal.
  const space = useClusterPrefix({ leaseTtlMs: 1500 });

  it('refuses a second coordinator while the first renews its lease', async () => {
    const job = nextJob();
    const first = new JetStreamCheckpointStore(space.cluster(), job, silentLogger);
    const release = await first.lock();
    try {
      const second = new JetStreamCheckpointStore(space.cluster(), job, silentLogger, { takeoverWaitMs: 5000 });
      const started = Date.now();
      await expect(second.lock()).rejects.toMatchObject({ code: 'JOB_ALREADY_RUNNING' });
      // Refused on seeing a renewal, not after waiting the whole takeover time.
      expect(Date.now() - started).toBeLessThan(5000);
      expect(first.heldLease?.held).toBe(true);
    } finally {
      await release();
    }
    // Released: the next coordinator takes it at once.
    const third = new JetStreamCheckpointStore(space.cluster(), job, silentLogger, { takeoverWaitMs: 0 });
    await (await third.lock())();
  });

  it("fences a deposed coordinator: its save after a takeover is refused and the pointer keeps the new coordinator's checkpoint", async () => {
    const job = nextJob();
    const old = new JetStreamCheckpointStore(space.cluster(), job, silentLogger);
    await old.lock();
    await old.save(checkpoint(job, 1));
    // The old coordinator stalls (a long GC pause, a partition): its lease key expires under it.
    await space.cluster().leases.delete(CoordinatorLease.key(job));
    const next = new JetStreamCheckpointStore(space.cluster(), job, silentLogger, { takeoverWaitMs: 0 });
    const release = await next.lock();
    try {
      expect(next.heldLease!.epoch).toBeGreaterThan(old.heldLease!.epoch);
      // It has not noticed yet (no renewal ran since), so only the pointer's compare-and-set stops it.
      expect(old.heldLease?.held).toBe(true);
      await expect(old.save(checkpoint(job, 2))).rejects.toMatchObject({ code: 'COORDINATOR_FENCED' });
      await expect(old.clear()).rejects.toMatchObject({ code: 'COORDINATOR_FENCED' });
      expect((await next.latest())?.checkpointId).toBe(1);
      await next.save(checkpoint(job, 2));
      expect((await next.latest())?.checkpointId).toBe(2);
      // Its next renewal finds the key changed: the lease is lost and every later write refused before NATS.
      await expect.poll(() => old.heldLease?.held, { timeout: 3000 }).toBe(false);
      await expect(old.save(checkpoint(job, 3))).rejects.toMatchObject({ code: 'LEASE_LOST' });
      expect((await next.latest())?.checkpointId).toBe(2);
    } finally {
      await release();
    }
  });

  it('takes over from a dead coordinator once its lease expires, and resumes from its checkpoint', async () => {
    const job = nextJob();
    const dead = new JetStreamCheckpointStore(space.cluster(), job, silentLogger);
    await dead.lock();
    await dead.save(checkpoint(job, 7));
    // A coordinator that died leaves a lease nobody renews: write one like it, without a renewing owner.
    await space.cluster().leases.delete(CoordinatorLease.key(job));
    await space.cluster().leases.create(CoordinatorLease.key(job), encodeJson({ job, token: 'dead', host: 'gone', pid: 1, acquiredAt: new Date().toISOString() }));
    const next = new JetStreamCheckpointStore(space.cluster(), job, silentLogger, { takeoverWaitMs: 4000 });
    const release = await next.lock();
    try {
      expect((await next.latest())?.checkpointId).toBe(7);
      await next.retain(1);
      await next.save(checkpoint(job, 8));
      await next.retain(1);
      expect((await next.latest())?.checkpointId).toBe(8);
      await next.clear();
      expect(await next.latest()).toBeUndefined();
    } finally {
      await release();
      await dead.heldLease?.release();
    }
  });

  it('refuses to resume from a checkpoint body that does not match its SHA-256', async () => {
    const job = nextJob();
    const store = new JetStreamCheckpointStore(space.cluster(), job, silentLogger);
    const release = await store.lock();
    try {
      await store.save(checkpoint(job, 1));
      const keys: string[] = [];
      for await (const info of await space.cluster().bodies.list()) if (info.name.startsWith(`${job}/`)) keys.push(info.name);
      expect(keys).toHaveLength(1);
      await space.cluster().bodies.putBlob({ name: keys[0]! }, encodeJson({ tampered: true }));
      await expect(store.latest()).rejects.toMatchObject({ code: 'CHECKPOINT_DAMAGED' });
    } finally {
      await store.clear().catch(() => undefined);
      await release();
    }
  });
});
