import { describe, expect, it } from 'vitest';
import { builtinRegistry, planJob } from '../../../src/index.js';
import { MAX_CLUSTER_PARALLELISM, MAX_PARALLELISM } from '../../../src/engine/job-config.js';

const job = (parallelism: number, env: Record<string, unknown> = {}) => ({
  env: { name: 'wide', parallelism, ...env },
  source: [{ type: 'fake', rows: 10 }],
  sink: [{ type: 'blackhole' }],
});

describe('the parallelism limit: one machine, or a cluster', () => {
  const registry = builtinRegistry();

  it(`on one machine, more than ${MAX_PARALLELISM} is refused at env.parallelism, saying where more is allowed`, () => {
    expect(planJob(job(MAX_PARALLELISM), registry).ok).toBe(true);
    const result = planJob(job(MAX_PARALLELISM + 1), registry);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toEqual([
      { path: 'env.parallelism', message: expect.stringMatching(/^parallelism is at most 64 on one machine: .*Up to 1024 in cluster mode \(env\.cluster, or tideway run --cluster\)/) },
    ]);
  });

  it(`on a cluster (env.cluster, or planned for one) up to ${MAX_CLUSTER_PARALLELISM}`, () => {
    const wide = planJob(job(256, { cluster: 'nats://127.0.0.1:4222' }), registry);
    expect(wide.ok && wide.plan.env.parallelism).toBe(256);
    expect(planJob(job(MAX_CLUSTER_PARALLELISM), registry, { cluster: true }).ok).toBe(true);
    const over = planJob(job(MAX_CLUSTER_PARALLELISM + 1), registry, { cluster: true });
    expect(over.ok).toBe(false);
    if (!over.ok) expect(over.issues[0]).toMatchObject({ path: 'env.parallelism', message: expect.stringContaining(`at most ${MAX_CLUSTER_PARALLELISM}`) });
  });
});
