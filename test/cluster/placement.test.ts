import { describe, expect, it } from 'vitest';
import { encodeJson } from '../../src/cluster/cluster-connection.js';
import { clusterStatus } from '../../src/cluster/cluster-status.js';
import { liveWorkers } from '../../src/cluster/nats-transport.js';
import type { WorkerInfo } from '../../src/cluster/protocol.js';
import { natsUp, useClusterPrefix } from './support.js';

describe.skipIf(!natsUp)('placement sees each live worker once', () => {
  const space = useClusterPrefix();

  // The client's KV key listing repeats a key rewritten while it lists, or skips it. Repeated, a worker's free
  // slots were counted twice and placement gave one worker more pipelines than it has slots (NO_CAPACITY);
  // skipped, a live worker was left out. Each round must see every worker exactly once.
  it('while heartbeats rewrite the worker keys', async () => {
    const { workers } = space.cluster();
    const info = (id: string): WorkerInfo => ({ id, host: 'h', pid: 1, slots: 3, used: 0, startedAt: '', heartbeatAt: '', runs: [] });
    const ids = ['w0', 'w1', 'w2', 'w3', 'w4'];
    for (const id of ids) await workers.put(id, encodeJson(info(id)));
    let beating = true;
    const heartbeats = (async () => {
      for (let n = 0; beating; n++) await workers.put(ids[n % ids.length]!, encodeJson(info(ids[n % ids.length]!)));
    })();
    try {
      for (let round = 0; round < 40; round++) {
        const live = await liveWorkers(space.cluster(), 60_000);
        expect(live.map((w) => w.info.id).sort()).toEqual(ids);
        expect((await clusterStatus(space.cluster(), 60_000)).workers.map((w) => w.id)).toEqual(ids);
      }
    } finally {
      beating = false;
      await heartbeats;
    }
  });
});
