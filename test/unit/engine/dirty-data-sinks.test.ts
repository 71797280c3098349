import { join } from 'node:path';
import mysql, { type Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import type { JobConfig } from '../../../src/engine/job-config.js';
import { builtinConnectors, ConnectorRegistry, runJob } from '../../../src/index.js';
import { rejectTransformConnector } from '../../../src/testing/reject-transform.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { committedRows } from '../../helpers/output.js';
import { requireService } from '../../helpers/services.js';

const HOST = process.env.MYSQL_HOST ?? '127.0.0.1';
const PORT = Number(process.env.MYSQL_PORT ?? 3306);
const USER = process.env.MYSQL_USER ?? 'root';
const PASSWORD = process.env.MYSQL_PASSWORD ?? '';
const mysqlUp = await requireService('MariaDB', HOST, PORT);

/**
 * The mysql sink's per-row path: a statement the server refuses for its data is retried row by row (InnoDB
 * undoes only the failed statement) and the refused rows go to the sink's dirty-data policy. The target's
 * id is a TINYINT, so the fake ids 128 and up are out of range.
 */
describe.skipIf(!mysqlUp)('dirty data: the mysql sink rejects the rows the server refuses', () => {
  const dir = useTempDirs('tideway-dirty-mysql-');
  const database = `tw_dirty_${Math.random().toString(36).slice(2, 10)}`;
  let connection: Connection;

  beforeAll(async () => {
    connection = await mysql.createConnection({ host: HOST, port: PORT, user: USER, password: PASSWORD });
    await connection.query(`CREATE DATABASE \`${database}\``);
  });
  afterAll(async () => {
    await connection?.query(`DROP DATABASE IF EXISTS \`${database}\``);
    await connection?.end();
  });

  async function table(name: string): Promise<number[]> {
    await connection.query(`CREATE TABLE IF NOT EXISTS \`${database}\`.\`${name}\` (id TINYINT NOT NULL PRIMARY KEY, name VARCHAR(64) NOT NULL) ENGINE=InnoDB`);
    const [rows] = await connection.query(`SELECT id FROM \`${database}\`.\`${name}\` ORDER BY id`);
    return (rows as { id: number }[]).map((r) => Number(r.id));
  }

  function job(name: string, work: string, errors: Record<string, unknown> | undefined, exactlyOnce = true): JobConfig {
    return {
      env: { name, transport: 'in-process', checkpoint: { interval: '50ms', dir: join(work, 'chk') } },
      source: [{ type: 'fake', rows: 300, splits: 2, chunk_rows: 40 }],
      transform: [{ type: 'select', columns: ['id', 'name'] }],
      sink: [{ type: 'mysql', host: HOST, port: PORT, user: USER, ...(PASSWORD ? { password: PASSWORD } : {}), database, table: name, batch_size: 25, exactly_once: exactlyOnce, ...(errors ? { errors } : {}) }],
    };
  }

  it.each([true, false])('exactly_once %s: the refused rows go to the dead letter once, the others to the table', async (exactlyOnce) => {
    const work = dir();
    const name = `t_${exactlyOnce ? 'eo' : 'plain'}`;
    await table(name);
    const bad = join(work, 'bad');
    const result = await runJob(job(name, work, { tolerance: 'all', dead_letter: { type: 'file', path: bad, format: 'jsonl' } }, exactlyOnce), { logger: silentLogger });
    expect(result.status, result.error?.message).toBe('finished');
    expect(await table(name)).toEqual(Array.from({ length: 128 }, (_, i) => i));
    const rows = committedRows(bad);
    expect(rows.map((r) => (JSON.parse(r.row_json as string) as { id: number }).id).sort((a, b) => a - b)).toEqual(Array.from({ length: 172 }, (_, i) => 128 + i));
    expect(rows[0]).toMatchObject({ stage: 'mysql', stage_type: 'mysql', error_code: 'MYSQL_ROW_REJECTED' });
    expect(String(rows[0]!.error_message)).toMatch(/refused row \d+ received by writer 0: .*Out of range value for column 'id'/);
    expect(result.sinks[0]).toMatchObject({ name: 'mysql', rowsWritten: 128, rowsErrored: 172 });
  });

  it('a mysql table as the dead letter of a job with two sources: one writer per pipeline (staging tables apart), each rejected row once', async () => {
    const work = dir();
    const stage = { type: 'mysql', host: HOST, port: PORT, user: USER, ...(PASSWORD ? { password: PASSWORD } : {}), database };
    const result = await runJob(
      {
        env: {
          name: 'two-sources-mysql',
          parallelism: 2,
          transport: 'in-process',
          checkpoint: { interval: '30ms', dir: join(work, 'chk') },
          errors: { tolerance: 'all', dead_letter: { ...stage, table: 'bad_rows' } },
        },
        source: [
          { type: 'fake', rows: 400, splits: 4, chunk_rows: 20, output: 'a' },
          { type: 'fake', rows: 400, splits: 4, chunk_rows: 20, output: 'b' },
        ],
        transform: [
          { type: 'test-reject', name: 'reject-a', input: 'a', output: 'ta', every: 5, remainder: 1 },
          { type: 'test-reject', name: 'reject-b', input: 'b', output: 'tb', every: 5, remainder: 2 },
        ],
        sink: [
          { type: 'blackhole', name: 'out-a', input: 'ta' },
          { type: 'blackhole', name: 'out-b', input: 'tb' },
        ],
      },
      { registry: new ConnectorRegistry([...builtinConnectors, rejectTransformConnector]), logger: silentLogger },
    );
    expect(result.status, result.error?.message).toBe('finished');
    const [rows] = await connection.query(`SELECT stage, row_json FROM \`${database}\`.bad_rows`);
    const ids = (stage: string) =>
      (rows as { stage: string; row_json: string }[])
        .filter((r) => r.stage === stage)
        .map((r) => (JSON.parse(r.row_json) as { id: number }).id)
        .sort((x, y) => x - y);
    expect(ids('reject-a')).toEqual(Array.from({ length: 80 }, (_, i) => i * 5 + 1));
    expect(ids('reject-b')).toEqual(Array.from({ length: 80 }, (_, i) => i * 5 + 2));
  });

  it('under tolerance none, the first refused row fails the job naming the sink and the row; nothing of it is committed', async () => {
    const work = dir();
    await table('t_strict');
    const result = await runJob(job('t_strict', work, undefined), { logger: silentLogger });
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe('MYSQL_ROW_REJECTED');
    expect(result.error?.message).toMatch(/^sink\[0\] \(mysql\) rejected row \d+ of a batch: .*refused row 129 received by writer 0: .*Out of range value for column 'id'.*; row \{"id":128,/);
    expect((await table('t_strict')).every((id) => id < 128)).toBe(true);
  });
});
