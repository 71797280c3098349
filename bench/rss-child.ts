/** Runs a 10-million-row job and prints the process's peak resident set size. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/api/logger.js';
import { runJob } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tideway-rss-'));
try {
  const result = await runJob(
    {
      env: { name: 'rss', parallelism: 1, transport: 'in-process', checkpoint: { interval: '2s', dir } },
      source: [{ type: 'fake', rows: 10_000_000, splits: 16 }],
      sink: [{ type: 'blackhole' }],
    },
    { logger: silentLogger },
  );
  const peakMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`PEAK_RSS_MB ${peakMb.toFixed(0)} ROWS ${result.rowsRead}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
