import { runJob } from '../../src/index.js';
import { silentLogger, stderrLogger } from '../../src/api/logger.js';
const t0 = Date.now();
const r = await runJob({ env: { name: 'scratch', parallelism: 2, transport: process.argv[2] as any, checkpoint: { dir: '/tmp/mysqlscratch/ck' } }, source: [{ type: 'mysql', host: '127.0.0.1', user: 'root', database: 'test', query: 'SELECT 1 AS x' }], sink: [{ type: 'blackhole' }] }, { logger: silentLogger });
console.log(r.status, Date.now() - t0, JSON.stringify(r.error));
