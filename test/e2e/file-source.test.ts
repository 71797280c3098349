import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDecoder, localFile } from '../../src/formats/index.js';
import { committedIds } from '../helpers/output.js';
import { ensureBuilt, ROOT } from './support/build.js';
import { runCli, useWorkspaces } from './support/cli.js';

beforeAll(ensureBuilt, 240_000);

const workspace = useWorkspaces();

async function parquetRows(dir: string): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.parquet'))) {
    for await (const batch of createDecoder('parquet').decode(localFile(join(dir, name)))) rows.push(...batch.toArray().map((r) => r.toJSON() as Record<string, unknown>));
  }
  return rows;
}

describe('tideway run with the file source', () => {
  it('the shipped example reads configs/data/orders.csv into Parquet, types inferred, quoted fields intact', async () => {
    const dir = workspace();
    const run = await runCli(
      ['run', join(ROOT, 'configs/file-csv-to-parquet.yaml'), '--var', `OUTPUT=${join(dir, 'out')}`, '--var', `CHECKPOINTS=${join(dir, 'ckpt')}`, '--json'],
      { cwd: ROOT, timeoutMs: 60_000 },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'finished', rowsRead: 40, sources: [{ type: 'file', rowsRead: 40 }] });
    const rows = await parquetRows(join(dir, 'out'));
    expect(rows.map((r) => Number(r.order_id)).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const nine = rows.find((r) => Number(r.order_id) === 9)!;
    expect(nine.customer).toBe('Smith, Jane');
    expect(rows.find((r) => Number(r.order_id) === 13)!.customer).toBe('Jo "JJ" Jones');
    expect(rows.find((r) => Number(r.order_id) === 7)!.quantity).toBeNull();
    expect(typeof nine.paid).toBe('boolean');
  });

  it('CSV -> Parquet -> JSON Lines through two jobs at parallelism 2 (worker threads): every row once', async () => {
    const lines = ['id,name,score'];
    for (let i = 0; i < 20_000; i++) lines.push(`${i},"name ${i}, the ${i % 3 === 0 ? '""quoted""' : 'plain'}",${(i * 0.5).toFixed(1)}`);
    const dir = workspace({
      'in.csv': `${lines.join('\n')}\n`,
      'to-parquet.yaml': `env:\n  name: e2e-file-a\n  parallelism: 2\n  checkpoint:\n    interval: 200ms\n    dir: ckpt\nsource:\n  - type: file\n    path: in.csv\n    split_size: 100KiB\n    chunk_rows: 1000\nsink:\n  - type: file\n    path: parquet\n    format: parquet\n`,
      'to-jsonl.yaml': `env:\n  name: e2e-file-b\n  parallelism: 2\n  checkpoint:\n    dir: ckpt\nsource:\n  - type: file\n    path: parquet/*.parquet\nsink:\n  - type: file\n    path: jsonl\n`,
    });
    const first = await runCli(['run', 'to-parquet.yaml'], { cwd: dir, timeoutMs: 90_000 });
    expect(first.code, first.stderr).toBe(0);
    const second = await runCli(['run', 'to-jsonl.yaml'], { cwd: dir, timeoutMs: 90_000 });
    expect(second.code, second.stderr).toBe(0);
    expect(committedIds(join(dir, 'jsonl')).sort((a, b) => a - b)).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
  });

  it('a missing path fails with exit 1 and names the path', async () => {
    const dir = workspace({
      'job.yaml': `env:\n  name: e2e-file-missing\n  checkpoint:\n    dir: ckpt\nsource:\n  - type: file\n    path: data/nothing-here.csv\nsink:\n  - type: blackhole\n`,
    });
    const run = await runCli(['run', 'job.yaml'], { cwd: dir, timeoutMs: 60_000 });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('FILE_SOURCE_NOT_FOUND');
    expect(run.stderr).toContain(join(dir, 'data/nothing-here.csv'));
  });
});
