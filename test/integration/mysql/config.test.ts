import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from '../../e2e/support/build.js';
import { runCli, useWorkspaces } from '../../e2e/support/cli.js';
import { MYSQL_HOST, MYSQL_PORT, mysqlUp, useDatabase } from './helpers.js';

const db = useDatabase('cfg');
const workspace = useWorkspaces();
const CONFIG = join(ROOT, 'configs/mysql.yaml');

beforeAll(async () => {
  if (mysqlUp) await ensureBuilt();
}, 240_000);

describe.skipIf(!mysqlUp)('configs/mysql.yaml', () => {
  const url = () => `mysql://root@${MYSQL_HOST}:${MYSQL_PORT}/${db.name}`;

  it('passes tideway check --connect against the local server, then runs and writes its rows', async () => {
    const env = { MYSQL_URL: url(), MYSQL_TABLE: 'orders_cfg' };
    const check = await runCli(['check', CONFIG, '--connect'], { cwd: workspace(), env, timeoutMs: 60_000 });
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/ok +sink\[0\] mysql \(mysql\): reachable and writable/);
    // check --connect changes nothing: the table does not exist yet.
    expect(Number((await db.sql("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orders_cfg'"))[0]![0])).toBe(0);
    const run = await runCli(['run', CONFIG, '--var', 'ROWS=3000'], { cwd: workspace(), env, timeoutMs: 90_000 });
    expect(run.code, run.stderr).toBe(0);
    expect((await db.sql('SELECT COUNT(*), COUNT(DISTINCT id) FROM orders_cfg'))[0]!.map(Number)).toEqual([3000, 3000]);
  });

  it('check --connect names the host and the reason when it cannot connect, and never shows the password', async () => {
    const env = { MYSQL_URL: `mysql://root:Sup3r-secret-pw@${MYSQL_HOST}:1/${db.name}` };
    const check = await runCli(['check', CONFIG, '--connect'], { cwd: workspace(), env, timeoutMs: 60_000 });
    const output = check.stdout + check.stderr;
    expect(check.code, output).toBe(1);
    expect(output).toMatch(new RegExp(`cannot connect to MySQL/MariaDB at ${MYSQL_HOST.replace(/\./g, '\\.')}:1 as \\\\?"root\\\\?": .*ECONNREFUSED`));
    expect(output).not.toContain('Sup3r-secret-pw');
  });

  it('check --connect reports a type mismatch in an existing table before any row moves', async () => {
    await db.sql('CREATE TABLE wrong_cfg (id BIGINT PRIMARY KEY, created_at INT)');
    const env = { MYSQL_URL: url(), MYSQL_TABLE: 'wrong_cfg' };
    const run = await runCli(['run', CONFIG, '--var', 'ROWS=100'], { cwd: workspace(), env, timeoutMs: 60_000 });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/input column "name" .*has no column in/);
    expect(Number((await db.sql('SELECT COUNT(*) FROM wrong_cfg'))[0]![0])).toBe(0);
  });
});
