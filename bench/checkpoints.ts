/**
 * `npm run bench -- checkpoints`: checkpoint size as a job consumes 100,000 splits at parallelism 8, and
 * after the same job is resumed twice. A checkpoint carries the enumerator's state, the splits in flight
 * and what each reader finished since the last completed checkpoint, so its size should follow the work in
 * flight, not the splits consumed since the job began. The baseline is the size of the split ids alone
 * (what a checkpoint holding every consumed id once would take, before any repeat per reader).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/api/logger.js';
import { type CheckpointData, type CheckpointStore, LocalCheckpointStore } from '../src/engine/checkpoint-store.js';
import { runJob } from '../src/index.js';
import { withSave } from '../src/testing/fault-injection.js';

const SPLITS = Number(process.env.TIDEWAY_BENCH_SPLITS ?? 100_000);
const dir = mkdtempSync(join(tmpdir(), 'tideway-bench-checkpoints-'));

/** Bytes of a whole checkpoint, and of the engine's part (splits in flight, readers' states) alone. */
interface Size {
  total: number;
  engine: number;
}

function measuringStore(sizes: Size[]): CheckpointStore {
  const inner = new LocalCheckpointStore(join(dir, 'checkpoints'), 'checkpoint-size');
  return withSave(inner, async (data: CheckpointData) => {
    const engine = data.sources.map((s) => JSON.stringify({ assigned: s.assigned, readers: s.readers }).length).reduce((a, b) => a + b, 0);
    sizes.push({ total: Buffer.byteLength(JSON.stringify(data)), engine });
    await inner.save(data);
  });
}

const job = {
  env: { name: 'checkpoint-size', parallelism: 8, transport: 'in-process' as const, checkpoint: { interval: '100ms', dir: join(dir, 'checkpoints') } },
  source: [{ type: 'fake', rows: SPLITS, splits: SPLITS, chunk_rows: 1 }],
  sink: [{ type: 'blackhole' }],
};

const bytes = (n: number) => `${n.toLocaleString('en-US')} B`;
const line = (name: string, value: string) => process.stdout.write(`${name.padEnd(62)} ${value.padStart(18)}\n`);
try {
  let consumed = 0;
  for (const [run, stopAt] of [
    ['first run', SPLITS / 2],
    ['resumed once', (SPLITS * 3) / 4],
    ['resumed twice, to the end', Infinity],
  ] as const) {
    const sizes: Size[] = [];
    const controller = new AbortController();
    const started = Date.now();
    const result = await runJob(job, {
      logger: silentLogger,
      checkpointStore: measuringStore(sizes),
      signal: controller.signal,
      progressIntervalMs: 50,
      onProgress: (p) => {
        if (consumed + p.rowsRead >= stopAt) controller.abort();
      },
    });
    consumed += result.rowsRead;
    line(`${run}: splits consumed so far`, consumed.toLocaleString('en-US'));
    line(`${run}: checkpoints`, `${sizes.length} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    line(`${run}: largest checkpoint (engine's part)`, `${bytes(Math.max(...sizes.map((s) => s.total)))} (${bytes(Math.max(...sizes.map((s) => s.engine)))})`);
    line(`${run}: last checkpoint (engine's part)`, `${bytes(sizes.at(-1)!.total)} (${bytes(sizes.at(-1)!.engine)})`);
  }
  const idsOnly = Array.from({ length: SPLITS }, (_, i) => `"fake-${i}"`).join(',').length;
  line(`baseline: every split id once`, bytes(idsOnly));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
